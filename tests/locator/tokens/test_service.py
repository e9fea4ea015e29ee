"""LocatorService on both backends: issue, introspect, revoke, rotate, retire, stay in step."""

from __future__ import annotations

import orjson
import pytest
import sqlalchemy as sa
import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shieldx.locator.state.store import signing_keys
from shieldx.locator.tokens.domain import INACTIVE_BODY, InvalidTokenRequest
from shieldx.locator.tokens.jws import TokenRejected, b64url_decode
from shieldx.locator.tokens.service import LocatorService
from shieldx.platform.context import PlatformContext
from shieldx.platform.crypto import DecryptionError

from ..conftest import Clock, issue, new_service


def _active(service: LocatorService, token: str, **kwargs: str | None) -> bool:
    body = service.introspect(token, **kwargs)
    return bool(orjson.loads(body)["active"])


def test_issued_token_introspects_with_its_claims(ctx_on_backend: PlatformContext) -> None:
    service = new_service(ctx_on_backend)
    issued = service.issue(
        subject="user-1",
        audience=["api", "billing"],
        scopes=["read", "write"],
        client_id="client-1",
        tenant="acme",
        ttl_seconds=600,
        claims={"plan": "gold"},
    )
    doc = orjson.loads(service.introspect(issued.access_token))
    assert doc["active"] is True
    assert doc["sub"] == "user-1"
    assert doc["aud"] == ["api", "billing"]
    assert doc["scope"] == "read write"
    assert doc["client_id"] == "client-1"
    assert doc["tenant"] == "acme"
    assert doc["plan"] == "gold"
    assert doc["jti"] == issued.jti
    assert doc["exp"] - doc["iat"] == 600 == issued.expires_in
    assert issued.kid == service.keyset.signer.kid  # type: ignore[union-attr]


def test_issue_refuses_bad_requests(platform_ctx: PlatformContext) -> None:
    service = new_service(platform_ctx)
    with pytest.raises(InvalidTokenRequest, match="ttl_seconds"):
        issue(service, ttl_seconds=10**6)
    with pytest.raises(InvalidTokenRequest, match="reserved"):
        issue(service, claims={"exp": 1})
    with pytest.raises(InvalidTokenRequest, match="subject"):
        issue(service, subject="")


def test_revocation_is_immediate_here_and_after_a_refresh_elsewhere(
    ctx_on_backend: PlatformContext,
) -> None:
    here = new_service(ctx_on_backend)
    there = new_service(ctx_on_backend)
    token = issue(here)
    assert _active(there, token)  # cached as verified in `there`
    assert here.revoke(token)
    assert not here.revoke(token)  # already revoked: nothing new
    assert not _active(here, token)
    there.refresh()
    assert not _active(there, token)
    assert here.metrics.revocations._value.get() == 1


def test_revoke_ignores_invalid_and_other_tenants_tokens(platform_ctx: PlatformContext) -> None:
    service = new_service(platform_ctx)
    token = issue(service, tenant="acme")
    assert not service.revoke("not-a-token")
    assert not service.revoke(token, tenant_scope="globex")
    assert _active(service, token)
    assert service.revoke(token, tenant_scope="acme")


def test_tenant_scope_and_audience_filter_introspection(platform_ctx: PlatformContext) -> None:
    service = new_service(platform_ctx)
    token = issue(service, tenant="acme", audience="api")
    assert _active(service, token, tenant_scope="acme")
    assert not _active(service, token, tenant_scope="globex")
    assert _active(service, token, audience="api")
    assert not _active(service, token, audience="other")


def test_expiry_with_leeway_also_applies_to_cached_tokens(
    platform_ctx: PlatformContext, clock: Clock
) -> None:
    service = new_service(platform_ctx, clock)
    token = issue(service, ttl_seconds=60)
    assert _active(service, token)  # now cached
    clock.advance(60 + 29)
    assert _active(service, token)
    clock.advance(1)
    assert not _active(service, token)


def test_rotation_keeps_old_tokens_valid_until_retired(
    ctx_on_backend: PlatformContext, clock: Clock
) -> None:
    service = new_service(ctx_on_backend, clock)
    old_kid = service.keyset.signer.kid  # type: ignore[union-attr]
    old = issue(service)
    new_kid = service.rotate()
    service.refresh()
    assert new_kid != old_kid
    new = issue(service)
    assert service.verify(new).kid == new_kid
    assert _active(service, old)
    published = [k["kid"] for k in orjson.loads(service.jwks_body())["keys"]]
    assert published == [new_kid, old_kid]
    service.retire(old_kid)
    service.refresh()
    assert not _active(service, old)
    assert _active(service, new)
    assert [k["kid"] for k in orjson.loads(service.jwks_body())["keys"]] == [new_kid]


def test_grace_period_retires_the_old_key_by_time(
    make_settings: object, clock: Clock, tmp_path: object
) -> None:
    from shieldx.platform import migrations
    from shieldx.platform.context import build_context

    settings = make_settings(  # type: ignore[operator]
        locator={"max_ttl": "1h", "key_grace_period": "2h"}
    )
    ctx = build_context(settings)
    migrations.upgrade(ctx.db)
    try:
        service = new_service(ctx, clock)
        old_kid = service.keyset.signer.kid  # type: ignore[union-attr]
        old = issue(service, ttl_seconds=3600)
        service.rotate()
        service.refresh()
        clock.advance(3600 + 29)  # the token itself is still within its leeway
        assert _active(service, old)
        clock.advance(2 * 3600)
        with pytest.raises(TokenRejected):
            service.verify(old)
        assert old_kid not in service.jwks_body().decode()
        assert service.maintain()[0] == [old_kid]
    finally:
        ctx.close()


def test_a_revoked_cached_token_turns_inactive_and_the_cache_is_bounded(
    make_settings: object,
) -> None:
    from shieldx.platform import migrations
    from shieldx.platform.context import build_context

    ctx = build_context(make_settings(locator={"verified_cache_size": 3}))  # type: ignore[operator]
    migrations.upgrade(ctx.db)
    try:
        service = new_service(ctx)
        tokens = [issue(service) for _ in range(5)]
        for token in tokens:
            assert _active(service, token)
        assert len(service.cache) == 3
        service.revoke(tokens[-1])
        assert not _active(service, tokens[-1])
        assert service.introspect(tokens[-1]) == INACTIVE_BODY
    finally:
        ctx.close()


def test_revocations_of_expired_tokens_are_forgotten(
    ctx_on_backend: PlatformContext, clock: Clock
) -> None:
    service = new_service(ctx_on_backend, clock)
    service.revoke(issue(service, ttl_seconds=60))
    assert len(service.revoked) == 1
    clock.advance(60 + 31)
    assert service.forget_expired() == 1
    assert service.maintain()[1] == 1
    assert service.revocations.count() == 0


def test_private_keys_are_sealed_at_rest_and_never_logged(
    platform_ctx: PlatformContext,
) -> None:
    with structlog.testing.capture_logs() as logs:
        service = new_service(platform_ctx)
        service.rotate()
    with platform_ctx.db.read() as conn:
        rows = conn.execute(sa.select(signing_keys.c.kid, signing_keys.c.private_key)).all()
    assert len(rows) == 2
    for kid, sealed in rows:
        assert sealed.startswith("v1.")
        raw = platform_ctx.keyring.decrypt(sealed, context=f"locator.signing_key:{kid}")
        assert len(raw) == 32
        Ed25519PrivateKey.from_private_bytes(raw)
        with pytest.raises(DecryptionError):
            platform_ctx.keyring.decrypt(sealed, context="locator.signing_key:other")
        assert raw.hex() not in repr(logs)
        assert sealed not in repr(logs)
    # The kid is the RFC 7638 thumbprint of the published key.
    jwk = orjson.loads(service.jwks_body())["keys"][0]
    assert len(b64url_decode(jwk["kid"])) == 32


def test_first_start_of_two_services_creates_one_key(ctx_on_backend: PlatformContext) -> None:
    first = new_service(ctx_on_backend)
    second = new_service(ctx_on_backend)
    assert len(first.key_records()) == 1
    assert first.keyset.signer.kid == second.keyset.signer.kid  # type: ignore[union-attr]
