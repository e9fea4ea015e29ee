"""RFC 8693 token exchange against locally generated OIDC issuers (JWKS from a file and over HTTP)."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

from shieldx.config import ConfigError, load_settings
from shieldx.locator.exchange.oidc import IdTokenVerifier, InvalidIdToken, JwksSource, key_for
from shieldx.locator.settings import OidcSettings
from shieldx.locator.tokens.jws import b64url

from ..conftest import Locator

IDP = "https://idp.example"
CLIENT = "locator-client"
GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"


class Issuer:
    """A tiny OIDC issuer: one key, ID tokens on demand, its JWKS as a document."""

    def __init__(self, kind: str, kid: str) -> None:
        self.kid = kid
        if kind == "rsa":
            self.key: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.alg = "RS256"
            jwk = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        else:
            self.key = ed25519.Ed25519PrivateKey.generate()
            self.alg = "EdDSA"
            jwk = OKPAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        self.jwk = {**jwk, "kid": kid, "use": "sig"}

    def jwks(self) -> bytes:
        return orjson.dumps({"keys": [self.jwk]})

    def id_token(self, **overrides: Any) -> str:
        now = int(time.time())
        claims = {"iss": IDP, "aud": CLIENT, "sub": "alice@idp", "iat": now, "exp": now + 300}
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, self.key, algorithm=self.alg, headers={"kid": self.kid})


class JwksServer:
    """Serves a JWKS document over loopback HTTP and counts the fetches."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> JwksServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def ed_issuer() -> Issuer:
    return Issuer("ed25519", "ed-1")


@pytest.fixture
def file_locator(
    locator_server: Callable[..., Locator], ed_issuer: Issuer, tmp_path: Path
) -> Locator:
    jwks = tmp_path / "jwks.json"
    jwks.write_bytes(ed_issuer.jwks())
    oidc = {"enabled": True, "issuer": IDP, "audience": CLIENT, "jwks_file": str(jwks)}
    return locator_server(locator={"oidc": oidc})


def _exchange(loc: Locator, who: str = "service", **params: str) -> httpx.Response:
    body = {"grant_type": GRANT, "subject_token_type": ID_TOKEN, "audience": "api", **params}
    return httpx.post(loc.url + "/token/exchange", data=body, headers=loc.headers(who))


def test_exchange_with_a_jwks_file(file_locator: Locator, ed_issuer: Issuer) -> None:
    response = _exchange(
        file_locator, "acme", subject_token=ed_issuer.id_token(), scope="read write"
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["issued_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "read write"
    claims = file_locator.introspect(body["access_token"])
    assert claims["active"] is True
    assert claims["sub"] == "alice@idp"
    assert claims["idp"] == IDP
    assert claims["tenant"] == "acme"
    assert claims["aud"] == "api"
    discovery = httpx.get(file_locator.url + "/.well-known/openid-configuration").json()
    assert discovery["grant_types_supported"] == [GRANT]


def test_exchange_with_a_jwks_url_and_rsa(locator_server: Callable[..., Locator]) -> None:
    issuer = Issuer("rsa", "rsa-1")
    with JwksServer(issuer.jwks()) as jwks:
        oidc = {"enabled": True, "issuer": IDP, "audience": CLIENT, "jwks_url": jwks.url}
        loc = locator_server(locator={"oidc": oidc})
        for _ in range(3):
            response = _exchange(loc, subject_token=issuer.id_token(), tenant="acme")
            assert response.status_code == 200, response.text
        assert jwks.fetches == 1  # cached for locator.oidc.jwks_cache


def _rejections(issuer: Issuer) -> dict[str, str]:
    base = issuer.id_token()
    header, payload, _ = base.split(".")
    hs_header = b64url(orjson.dumps({"alg": "HS256", "kid": issuer.kid}))
    mac_key = orjson.dumps(issuer.jwk)
    mac = hmac.new(mac_key, f"{hs_header}.{payload}".encode(), hashlib.sha256).digest()
    none_header = b64url(orjson.dumps({"alg": "none", "kid": issuer.kid}))
    stranger = Issuer("ed25519", "ed-unknown")
    return {
        "wrong audience": issuer.id_token(aud="someone-else"),
        "wrong issuer": issuer.id_token(iss="https://evil.example"),
        "expired": issuer.id_token(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200),
        "no subject": issuer.id_token(sub=None),
        "alg none": f"{none_header}.{payload}.",
        "hs256 with the public key": f"{hs_header}.{payload}.{b64url(mac)}",
        "unknown key": stranger.id_token(),
        "forged payload": f"{header}.{b64url(orjson.dumps({'sub': 'root'}))}.{base.split('.')[2]}",
        "garbage": "not-a-jwt",
    }


def test_invalid_id_tokens_are_refused_with_invalid_grant(
    file_locator: Locator, ed_issuer: Issuer
) -> None:
    for case, token in _rejections(ed_issuer).items():
        response = _exchange(file_locator, subject_token=token, tenant="acme")
        assert response.status_code == 400, case
        assert response.json()["error"] == "invalid_grant", case


def test_exchange_request_shape_errors(file_locator: Locator, ed_issuer: Issuer) -> None:
    good = ed_issuer.id_token()
    cases = {
        "unsupported_grant_type": {"grant_type": "password", "subject_token": good},
        "invalid_request": {"subject_token": good, "subject_token_type": "urn:x"},
        "invalid_target": {"subject_token": good, "audience": ""},
    }
    for error, params in cases.items():
        response = _exchange(file_locator, tenant="acme", **params)
        assert response.status_code == 400
        assert response.json()["error"] == error
    assert _exchange(file_locator, "auditor", subject_token=good).status_code == 403


def test_key_for_refuses_mismatched_keys(ed_issuer: Issuer) -> None:
    with pytest.raises(InvalidIdToken, match="cannot verify RS256"):
        key_for(ed_issuer.jwk, "RS256")
    with pytest.raises(InvalidIdToken, match="not published"):
        key_for({**ed_issuer.jwk, "alg": "ES256"}, "EdDSA")
    with pytest.raises(InvalidIdToken, match="not published"):
        key_for({**ed_issuer.jwk, "use": "enc"}, "EdDSA")
    assert key_for(ed_issuer.jwk, "EdDSA") is not None


def test_unknown_kid_refetches_the_jwks_at_most_every_ten_seconds(tmp_path: Path) -> None:
    first, second = Issuer("ed25519", "k1"), Issuer("ed25519", "k2")
    now = [1000.0]
    with JwksServer(first.jwks()) as server:
        source = JwksSource(url=server.url, max_age=300, clock=lambda: now[0])
        settings = OidcSettings(enabled=True, issuer=IDP, audience=CLIENT, jwks_url=server.url)
        verifier = IdTokenVerifier(settings, leeway=30, source=source)
        assert verifier.verify(first.id_token())["sub"] == "alice@idp"
        server.body = second.jwks()  # the issuer rotated
        with pytest.raises(InvalidIdToken, match="no key"):
            verifier.verify(second.id_token())  # too soon to refetch
        now[0] += 10
        assert verifier.verify(second.id_token())["sub"] == "alice@idp"
        assert server.fetches == 2


def test_jwks_source_keeps_the_last_good_copy(tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    path.write_bytes(Issuer("ed25519", "k1").jwks())
    now = [0.0]
    source = JwksSource(file=path, max_age=60, clock=lambda: now[0])
    assert source.keys()[0]["kid"] == "k1"
    path.write_text("{broken")
    now[0] += 61
    assert source.keys()[0]["kid"] == "k1"
    with pytest.raises(ValueError, match="http"):
        JwksSource(url="file:///etc/passwd", max_age=60)


@pytest.mark.parametrize(
    ("oidc", "message"),
    [
        ({"enabled": True, "audience": CLIENT, "jwks_url": "http://x"}, "issuer"),
        ({"enabled": True, "issuer": IDP, "audience": CLIENT}, "exactly one of"),
        ({"algorithms": ["HS256"]}, "HS256 not allowed"),
        ({"algorithms": ["none"]}, "none not allowed"),
    ],
)
def test_oidc_settings_are_checked(oidc: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(None, environ={}, overrides={"locator": {"oidc": oidc}})
