"""Claim rules: lifetimes, scopes, reserved claims, issuer and time checks."""

from __future__ import annotations

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from shieldx.locator.tokens.domain import (
    RESERVED_CLAIMS,
    InvalidTokenRequest,
    TokenPolicy,
    admits,
    build_claims,
    check_claims,
    custom_claims,
    discovery_document,
    normalise_audience,
    scope_string,
    ttl_for,
)
from shieldx.locator.tokens.jws import TokenRejected, VerificationKey

POLICY = TokenPolicy(
    issuer="https://locator.test", default_ttl=900, min_ttl=30, max_ttl=3600, leeway=30
)
KEY = VerificationKey("k1", Ed25519PrivateKey.generate().public_key())
NOW = 1_800_000_000


def _claims(**overrides: object) -> dict[str, object]:
    claims = build_claims(
        policy=POLICY,
        subject="user-1",
        audience="api",
        scope="read write",
        client_id="c1",
        tenant="acme",
        ttl=900,
        now=NOW,
        jti="j1",
    )
    claims.update(overrides)
    return claims


def test_ttl_defaults_and_bounds() -> None:
    assert ttl_for(None, POLICY) == 900
    assert ttl_for(30, POLICY) == 30
    assert ttl_for(3600, POLICY) == 3600
    for bad in (29, 3601, 0, -5):
        with pytest.raises(InvalidTokenRequest, match="between 30 and 3600"):
            ttl_for(bad, POLICY)


def test_scopes_are_rfc6749_tokens_deduplicated_in_order() -> None:
    assert scope_string(["read", "write", "read"]) == "read write"
    assert scope_string([]) == ""
    for bad in ("has space", 'quote"', "back\\slash", "", "é"):
        with pytest.raises(InvalidTokenRequest, match="scope token"):
            scope_string([bad])


def test_audience_is_a_string_or_a_bounded_list() -> None:
    assert normalise_audience("api") == "api"
    assert normalise_audience(["a", "b"]) == ["a", "b"]
    for bad in ("", [], ["ok", ""], ["x"] * 17):
        with pytest.raises(InvalidTokenRequest):
            normalise_audience(bad)


@pytest.mark.parametrize("name", sorted(RESERVED_CLAIMS))
def test_reserved_claims_cannot_be_set(name: str) -> None:
    with pytest.raises(InvalidTokenRequest, match=f"reserved claims: {name}"):
        custom_claims({name: "x"}, 4096)


def test_custom_claims_size_and_types() -> None:
    assert custom_claims({"plan": "gold", "n": [1, 2]}, 4096) == {"plan": "gold", "n": [1, 2]}
    with pytest.raises(InvalidTokenRequest, match="limit is 10"):
        custom_claims({"plan": "gold-plated"}, 10)
    with pytest.raises(InvalidTokenRequest, match="JSON values"):
        custom_claims({"when": object()}, 4096)


def test_build_claims_has_the_rfc9068_set() -> None:
    claims = _claims()
    assert claims == {
        "iss": "https://locator.test",
        "sub": "user-1",
        "aud": "api",
        "exp": NOW + 900,
        "iat": NOW,
        "jti": "j1",
        "client_id": "c1",
        "scope": "read write",
        "tenant": "acme",
    }


def test_extra_claims_never_override_reserved_ones() -> None:
    claims = build_claims(
        policy=POLICY,
        subject="s",
        audience="a",
        scope="",
        client_id="c",
        tenant="t",
        ttl=60,
        now=NOW,
        jti="j",
        extra={"plan": "gold"},
    )
    assert claims["plan"] == "gold"
    assert claims["sub"] == "s"


def test_check_claims_accepts_and_renders_the_introspection_answer() -> None:
    verified = check_claims(_claims(), key=KEY, policy=POLICY, now=NOW + 10)
    body = orjson.loads(verified.body)
    assert body["active"] is True
    assert body["token_type"] == "Bearer"
    assert body["sub"] == "user-1"
    assert verified.valid_until == NOW + 900 + 30
    assert verified.audiences == ("api",)


def _reason(claims: dict[str, object], now: float) -> str:
    with pytest.raises(TokenRejected) as caught:
        check_claims(claims, key=KEY, policy=POLICY, now=now)
    return caught.value.reason


def test_expiry_honours_the_leeway_exactly() -> None:
    exp = NOW + 900
    check_claims(_claims(), key=KEY, policy=POLICY, now=exp + 29)
    assert _reason(_claims(), exp + 30) == "expired"


def test_not_before_in_the_future_is_rejected_beyond_the_leeway() -> None:
    check_claims(_claims(nbf=NOW + 30), key=KEY, policy=POLICY, now=NOW)
    assert _reason(_claims(nbf=NOW + 31), NOW) == "not_yet_valid"


def test_issued_in_the_future_is_rejected() -> None:
    assert _reason(_claims(iat=NOW + 100), NOW) == "issued_in_future"


def test_wrong_issuer_is_rejected() -> None:
    assert _reason(_claims(iss="https://evil.test"), NOW) == "wrong_issuer"


@pytest.mark.parametrize(
    "override",
    [
        {"exp": "soon"},
        {"exp": True},
        {"aud": 5},
        {"aud": []},
        {"sub": None},
        {"tenant": 1},
        {"jti": ["x"]},
    ],
)
def test_badly_typed_claims_are_rejected(override: dict[str, object]) -> None:
    assert _reason(_claims(**override), NOW) == "bad_claims"


def test_key_retirement_bounds_validity() -> None:
    short = VerificationKey("k1", KEY.public_key, valid_until=NOW + 100)
    assert check_claims(_claims(), key=short, policy=POLICY, now=NOW).valid_until == NOW + 100


def test_admits_checks_audience_and_tenant() -> None:
    verified = check_claims(_claims(aud=["api", "billing"]), key=KEY, policy=POLICY, now=NOW)
    assert admits(verified, audience=None, tenant_visible=True)
    assert admits(verified, audience="billing", tenant_visible=True)
    assert not admits(verified, audience="other", tenant_visible=True)
    assert not admits(verified, audience=None, tenant_visible=False)


def test_discovery_lists_endpoints_and_algorithms() -> None:
    doc = discovery_document("https://l.test", token_exchange=False)
    assert doc["jwks_uri"] == "https://l.test/.well-known/jwks.json"
    assert doc["introspection_endpoint"] == "https://l.test/introspect"
    assert doc["revocation_endpoint"] == "https://l.test/revoke"
    assert doc["access_token_signing_alg_values_supported"] == ["EdDSA"]
    assert "token_endpoint" not in doc
    assert discovery_document("https://l.test", token_exchange=True)["token_endpoint"] == (
        "https://l.test/token/exchange"
    )


@given(st.integers(min_value=-(10**6), max_value=10**6))
def test_time_rules_are_monotonic(offset: int) -> None:
    now = NOW + offset
    try:
        check_claims(_claims(), key=KEY, policy=POLICY, now=now)
        accepted = True
    except TokenRejected:
        accepted = False
    assert accepted == (NOW - 30 <= now < NOW + 900 + 30)
