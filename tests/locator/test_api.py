"""The locator over real loopback HTTP: routes, roles, formats, JWKS, rotation, metrics."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import jwt
import pytest

from shieldx.platform.honeytokens import USED_TOPIC

from .conftest import ISSUER, Locator

PROBLEM = "application/problem+json"
Start = Callable[..., Locator]


@pytest.fixture
def loc(locator_server: Start) -> Locator:
    return locator_server()


def test_issue_returns_a_bearer_token_for_admin_and_service_keys(loc: Locator) -> None:
    for who in ("admin", "service"):
        response = loc.issue(who, scopes=["read", "write"], ttl_seconds=120)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 120
        assert body["scope"] == "read write"
        assert set(body) == {"access_token", "token_type", "expires_in", "scope", "jti", "kid"}


@pytest.mark.parametrize("who", ["operator", "auditor"])
def test_other_roles_cannot_issue(loc: Locator, who: str) -> None:
    response = loc.issue(who)
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM


def test_issue_tenant_rules(loc: Locator) -> None:
    scoped = loc.issue("acme", tenant=None)
    assert scoped.status_code == 200
    assert loc.introspect(scoped.json()["access_token"])["tenant"] == "acme"
    assert loc.issue("acme", tenant="globex").status_code == 403
    assert loc.issue("admin", tenant=None).status_code == 422


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"ttl_seconds": 5}, "ttl_seconds must be between 30 and 86400"),
        ({"ttl_seconds": 86401}, "ttl_seconds must be between 30 and 86400"),
        ({"claims": {"sub": "root", "plan": "x"}}, "reserved claims: sub"),
        ({"scopes": ["two words"]}, "not a valid scope token"),
        ({"claims": {"ISS": "https://evil"}}, "reserved claims: ISS"),
        ({"claims": {"Tenant": "globex", "Sub": "root"}}, "reserved claims: Sub, Tenant"),
        ({"subject": "user\x00-1"}, "control characters"),
        ({"subject": "user\n-1"}, "control characters"),
        ({"claims": {"na\x00me": "x"}}, "control characters"),
        ({"claims": {"plan": ["ok", "a\x00b"]}}, "control characters"),
        ({"audience": ["api", "x\x1b[31m"]}, "control characters"),
    ],
)
def test_issue_refuses_bad_requests_with_422(
    loc: Locator, body: dict[str, object], detail: str
) -> None:
    response = loc.issue(**body)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert detail in response.json()["detail"]


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_issue_refuses_non_finite_numbers_in_claims(loc: Locator, number: str) -> None:
    # Python's JSON reader takes these words; encoding them again would give null.
    body = '{"subject": "u", "audience": "api", "tenant": "acme", "claims": {"x": {"y": [%s]}}}'
    response = httpx.post(
        loc.url + "/issue",
        content=body % number,
        headers={**loc.headers(), "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert "claim x.y[0] is not a finite number" in response.json()["detail"]


def test_form_parameters_with_control_characters_are_refused(loc: Locator) -> None:
    for path in ("/introspect", "/revoke"):
        response = httpx.post(loc.url + path, data={"token": "a\x00b"}, headers=loc.headers())
        assert response.status_code == 400
        assert "control character" in response.json()["detail"]


def test_issue_validates_the_body_shape(loc: Locator) -> None:
    response = httpx.post(loc.url + "/issue", json={"audience": "api"}, headers=loc.headers())
    assert response.status_code == 422
    assert "subject" in response.json()["detail"]


def test_introspect_accepts_form_and_json_alike(loc: Locator) -> None:
    token = loc.token(scopes=["read"])
    form = loc.introspect(token)
    as_json = httpx.post(loc.url + "/introspect", json={"token": token}, headers=loc.headers())
    assert as_json.json() == form
    assert form["active"] is True
    assert form["iss"] == ISSUER
    assert form["token_type"] == "Bearer"
    for claim in ("sub", "aud", "scope", "client_id", "exp", "iat", "jti", "tenant"):
        assert claim in form


def test_inactive_answer_is_exactly_active_false(loc: Locator) -> None:
    for token in ("garbage", "a.b.c", loc.token() + "x"):
        response = httpx.post(loc.url + "/introspect", data={"token": token}, headers=loc.headers())
        assert response.status_code == 200
        assert response.content == b'{"active":false}'


def test_introspect_request_errors(loc: Locator) -> None:
    h = loc.headers()
    missing = httpx.post(loc.url + "/introspect", data={"token_type_hint": "x"}, headers=h)
    assert missing.status_code == 400
    assert "token parameter is required" in missing.json()["detail"]
    twice = httpx.post(
        loc.url + "/introspect",
        content=b"token=a&token=b",
        headers={**h, "content-type": "application/x-www-form-urlencoded"},
    )
    assert twice.status_code == 400
    text = httpx.post(
        loc.url + "/introspect", content=b"token=a", headers={**h, "content-type": "text/plain"}
    )
    assert text.status_code == 415
    not_string = httpx.post(loc.url + "/introspect", json={"token": 5}, headers=h)
    assert not_string.status_code == 422
    anonymous = httpx.post(loc.url + "/introspect", data={"token": "a"})
    assert anonymous.status_code == 401


def test_introspect_is_open_to_any_authenticated_role(loc: Locator) -> None:
    token = loc.token()
    for who in ("operator", "auditor", "service"):
        assert loc.introspect(token, who)["active"] is True


def test_revoke_answers_200_alike_and_takes_effect_at_once(loc: Locator) -> None:
    token = loc.token()
    assert loc.introspect(token)["active"] is True
    for candidate in (token, token, "unknown", loc.token()[:-3] + "abc"):
        response = loc.revoke(candidate)
        assert response.status_code == 200
        assert response.content == b""
    assert loc.introspect(token) == {"active": False}
    anonymous = httpx.post(loc.url + "/revoke", data={"token": token})
    assert anonymous.status_code == 401


def test_a_tenant_key_cannot_revoke_another_tenants_token(loc: Locator) -> None:
    token = loc.token(tenant="globex")
    assert loc.revoke(token, "acme").status_code == 200
    assert loc.introspect(token)["active"] is True
    assert loc.revoke(token, "globex").status_code == 200
    assert loc.introspect(token)["active"] is False


def test_an_auditor_cannot_revoke_any_token(loc: Locator) -> None:
    # The unscoped auditor sees every tenant; read-only, it may still revoke none of them.
    for tenant in (None, "globex"):
        token = loc.token(tenant=tenant) if tenant else loc.token()
        refused = loc.revoke(token, "auditor")
        assert refused.status_code == 403
        assert "read-only" in refused.json()["detail"]
        assert loc.introspect(token)["active"] is True
    assert loc.revoke(loc.token(), "operator").status_code == 200


def test_jwks_is_public_cacheable_and_lists_okp_keys(loc: Locator) -> None:
    response = httpx.get(loc.url + "/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    (key,) = response.json()["keys"]
    assert set(key) == {"kty", "crv", "x", "kid", "use", "alg"}
    assert (key["kty"], key["crv"], key["use"], key["alg"]) == ("OKP", "Ed25519", "sig", "EdDSA")
    assert "d" not in key


def test_discovery_document(loc: Locator) -> None:
    response = httpx.get(loc.url + "/.well-known/openid-configuration")
    assert response.status_code == 200
    assert response.headers["cache-control"].startswith("public")
    doc = response.json()
    assert doc["issuer"] == ISSUER
    assert doc["jwks_uri"] == ISSUER + "/.well-known/jwks.json"
    assert doc["introspection_endpoint"] == ISSUER + "/introspect"
    assert doc["revocation_endpoint"] == ISSUER + "/revoke"
    assert doc["access_token_signing_alg_values_supported"] == ["EdDSA"]


def test_tokens_validate_with_pyjwt_against_the_published_jwks(loc: Locator) -> None:
    token = loc.token(audience="https://api.example", scopes=["read"])
    client = jwt.PyJWKClient(loc.url + "/.well-known/jwks.json", cache_keys=False)
    key = client.get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token, key, algorithms=["EdDSA"], audience="https://api.example", issuer=ISSUER
    )
    assert claims["scope"] == "read"
    assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(token, key, algorithms=["EdDSA"], audience="other", issuer=ISSUER)
    # After a rotation both keys are published: old and new tokens validate independently.
    assert httpx.post(loc.url + "/admin/keys/rotate", headers=loc.headers()).status_code == 200
    newer = loc.token(audience="https://api.example")
    assert jwt.get_unverified_header(newer)["kid"] != jwt.get_unverified_header(token)["kid"]
    for candidate in (token, newer):
        fresh = jwt.PyJWKClient(loc.url + "/.well-known/jwks.json", cache_keys=False)
        signing_key = fresh.get_signing_key_from_jwt(candidate)
        jwt.decode(candidate, signing_key, algorithms=["EdDSA"], audience="https://api.example")


def test_rotate_route_is_admin_only_and_does_not_clash_with_api_keys(loc: Locator) -> None:
    h = loc.headers()
    before = httpx.get(loc.url + "/.well-known/jwks.json").json()["keys"]
    assert (
        httpx.post(loc.url + "/admin/keys/rotate", headers=loc.headers("operator")).status_code
        == 403
    )
    rotated = httpx.post(loc.url + "/admin/keys/rotate", headers=h)
    assert rotated.status_code == 200
    body = rotated.json()
    assert [k["status"] for k in body["keys"]] == ["verifying", "active"]
    assert body["kid"] == body["keys"][-1]["kid"] != before[0]["kid"]
    assert [k["kid"] for k in httpx.get(loc.url + "/.well-known/jwks.json").json()["keys"]] == [
        body["kid"],
        before[0]["kid"],
    ]
    # The platform's API-key routes around the same prefix still work.
    created = httpx.post(loc.url + "/admin/keys", json={"role": "auditor"}, headers=h)
    assert created.status_code == 201
    listed = httpx.get(loc.url + "/admin/keys", headers=h)
    assert created.json()["id"] in {k["id"] for k in listed.json()}
    assert (
        httpx.delete(loc.url + f"/admin/keys/{created.json()['id']}", headers=h).status_code == 204
    )
    assert httpx.get(loc.url + "/admin/keys/rotate", headers=h).status_code == 405


def test_exchange_is_off_by_default(loc: Locator) -> None:
    response = httpx.post(loc.url + "/token/exchange", data={}, headers=loc.headers())
    assert response.status_code == 404
    assert "locator.oidc.enabled" in response.json()["detail"]


def test_metrics_count_issuance_introspection_revocation_and_signing(loc: Locator) -> None:
    token = loc.token()
    loc.introspect(token)
    loc.introspect("nope")
    loc.revoke(token)
    text = httpx.get(loc.url + "/metrics").text
    assert "locator_tokens_issued_total 1.0" in text
    assert 'locator_introspections_total{active="true"} 1.0' in text
    assert 'locator_introspections_total{active="false"} 1.0' in text
    assert "locator_revocations_total 1.0" in text
    assert "locator_signing_duration_seconds_count 1.0" in text
    assert 'locator_token_rejections_total{reason="malformed"} 1.0' in text


def test_a_planted_token_is_inactive_and_reported_to_the_honeytoken_registry(
    loc: Locator,
) -> None:
    planted = (
        "eyJhbGciOiJFZERTQSIsImtpZCI6ImRlY295IiwidHlwIjoiYXQrand0In0.eyJzdWIiOiJhZG1pbiJ9.c2ln"
    )
    token_id = loc.ctx.honeytokens.plant(token=planted, kind="jwt", session_id="sess-42")
    heard: list[Mapping[str, Any]] = []
    done = threading.Event()

    def on_use(_topic: str, payload: Mapping[str, Any]) -> None:
        heard.append(payload)
        done.set()

    loc.ctx.bus.subscribe(USED_TOPIC, on_use)
    assert loc.introspect(planted) == {"active": False}
    assert done.wait(timeout=10)
    assert heard[0]["token_id"] == token_id
    assert heard[0]["session_id"] == "sess-42"
    assert heard[0]["location"] == "locator.introspect"
