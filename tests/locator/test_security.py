"""The issue's security cases, each against a live server: every one must answer {active: false}."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

import httpx
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shieldx.locator.tokens.jws import TokenSigner, b64url, b64url_decode

from .conftest import Clock, Locator

INACTIVE = {"active": False}


@pytest.fixture
def loc(locator_server: Callable[..., Locator]) -> Locator:
    return locator_server(locator={"clock_skew": "30s"})


def _parts(token: str) -> tuple[dict[str, object], dict[str, object]]:
    header, payload, _ = token.split(".")
    return orjson.loads(b64url_decode(header)), orjson.loads(b64url_decode(payload))


def _segment(doc: object) -> str:
    return b64url(orjson.dumps(doc))


def _published_x(loc: Locator) -> str:
    return str(httpx.get(loc.url + "/.well-known/jwks.json").json()["keys"][0]["x"])


def test_alg_none(loc: Locator) -> None:
    header, claims = _parts(loc.token())
    forged = f"{_segment({**header, 'alg': 'none'})}.{_segment(claims)}."
    assert loc.introspect(forged) == INACTIVE


def test_hs256_signed_with_the_public_key_is_refused(loc: Locator) -> None:
    header, claims = _parts(loc.token())
    x = _published_x(loc)
    signing_input = f"{_segment({**header, 'alg': 'HS256'})}.{_segment(claims)}"
    for secret in (b64url_decode(x), x.encode()):
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        assert loc.introspect(f"{signing_input}.{b64url(mac)}") == INACTIVE


def test_token_from_an_unknown_key(loc: Locator) -> None:
    _, claims = _parts(loc.token())
    stranger = TokenSigner("not-a-published-kid", Ed25519PrivateKey.generate())
    assert loc.introspect(stranger.sign(claims)) == INACTIVE
    # Same kid as the real key, different private key: the signature fails.
    header, _ = _parts(loc.token())
    impostor = TokenSigner(str(header["kid"]), Ed25519PrivateKey.generate())
    assert loc.introspect(impostor.sign(claims)) == INACTIVE


def test_modified_payload(loc: Locator) -> None:
    header, payload, signature = loc.token(scopes=["read"]).split(".")
    claims = orjson.loads(b64url_decode(payload))
    forged = _segment({**claims, "scope": "read admin"})
    assert loc.introspect(f"{header}.{forged}.{signature}") == INACTIVE


def test_expired_with_the_clock_skew_leeway(loc: Locator, clock: Clock) -> None:
    token = loc.token(ttl_seconds=60)
    clock.advance(60 + 29)
    assert loc.introspect(token)["active"] is True  # within the 30 s leeway
    clock.advance(1)
    assert loc.introspect(token) == INACTIVE


def test_not_before_in_the_future(loc: Locator, clock: Clock) -> None:
    _, claims = _parts(loc.token())
    signer = loc.service.keyset.signer
    assert signer is not None
    later = signer.sign({**claims, "nbf": int(clock.now) + 120})
    assert loc.introspect(later) == INACTIVE
    clock.advance(120)
    assert loc.introspect(later)["active"] is True


def test_wrong_audience_when_the_caller_names_one(loc: Locator) -> None:
    token = loc.token(audience=["orders", "billing"])
    assert loc.introspect(token, audience="billing")["active"] is True
    assert loc.introspect(token, audience="payroll") == INACTIVE
    assert loc.introspect(token)["active"] is True


def test_rotated_but_not_retired_key_still_verifies(loc: Locator) -> None:
    token = loc.token()
    rotated = httpx.post(loc.url + "/admin/keys/rotate", headers=loc.headers())
    assert rotated.status_code == 200
    assert _parts(token)[0]["kid"] != rotated.json()["kid"]
    assert loc.introspect(token)["active"] is True


def test_retired_key_no_longer_verifies(loc: Locator, clock: Clock) -> None:
    token = loc.token()
    old_kid = str(_parts(token)[0]["kid"])
    assert loc.introspect(token)["active"] is True  # cached as verified
    httpx.post(loc.url + "/admin/keys/rotate", headers=loc.headers()).raise_for_status()
    loc.service.retire(old_kid)  # what `shieldx locator keys retire KID` does
    assert loc.introspect(token) == INACTIVE
    assert old_kid not in httpx.get(loc.url + "/.well-known/jwks.json").text


def test_retirement_by_grace_period(locator_server: Callable[..., Locator], clock: Clock) -> None:
    loc = locator_server(locator={"max_ttl": "1h", "key_grace_period": "1h"})
    token = loc.token(ttl_seconds=3600)
    httpx.post(loc.url + "/admin/keys/rotate", headers=loc.headers()).raise_for_status()
    clock.advance(3599)
    assert loc.introspect(token)["active"] is True
    clock.advance(1)
    assert loc.introspect(token) == INACTIVE


def test_tenant_scoped_caller_sees_only_its_tenants_tokens(loc: Locator) -> None:
    globex = loc.token(tenant="globex")
    assert loc.introspect(globex, "acme") == INACTIVE
    assert loc.introspect(globex, "globex")["active"] is True
    assert loc.introspect(globex, "admin")["active"] is True


def test_wrong_issuer(locator_server: Callable[..., Locator], clock: Clock) -> None:
    loc = locator_server()
    _, claims = _parts(loc.token())
    signer = loc.service.keyset.signer
    assert signer is not None
    assert loc.introspect(signer.sign({**claims, "iss": "https://evil.test"})) == INACTIVE
