"""API keys on both backends, the lookup cache and tenant scoping."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from shieldx.platform.auth import (
    KEY_PATTERN,
    ApiKeyStore,
    Authenticator,
    Principal,
    hash_key,
)
from shieldx.platform.db import Database
from shieldx.platform.errors import Problem
from shieldx.platform.roles import Role


def test_keys_are_stored_only_as_hashes(database: Database) -> None:
    store = ApiKeyStore(database)
    record, key = store.create(role=Role.OPERATOR, tenant="acme", name="ops")
    assert KEY_PATTERN.match(key)
    with database.read() as conn:
        rows = [tuple(r) for r in conn.execute(sa.text("SELECT * FROM api_keys"))]
    assert key not in repr(rows)
    assert key[len("shx_") + 13 :] not in repr(rows)
    principal = store.find_by_hash(hash_key(key))
    assert principal == Principal(key_id=record.id, role=Role.OPERATOR, tenant="acme", name="ops")


def test_list_and_revoke(database: Database) -> None:
    store = ApiKeyStore(database)
    a, key_a = store.create(role=Role.ADMIN)
    b, _ = store.create(role=Role.AUDITOR)
    assert [r.id for r in store.list()] == [a.id, b.id]
    assert store.has_admin()
    assert store.revoke(a.id)
    assert not store.revoke(a.id)
    assert not store.has_admin()
    assert store.find_by_hash(hash_key(key_a)) is None
    assert [r.id for r in store.list()] == [b.id]
    assert {r.id for r in store.list(include_revoked=True)} == {a.id, b.id}


def test_supplied_bootstrap_key_must_be_long(database: Database) -> None:
    store = ApiKeyStore(database)
    with pytest.raises(ValueError, match="at least"):
        store.create(role=Role.ADMIN, key="short")
    _, key = store.create(role=Role.ADMIN, key="automation-key-0123456789abcdef")
    assert key == "automation-key-0123456789abcdef"


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _CountingStore(ApiKeyStore):
    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.lookups = 0

    def find_by_hash(self, key_hash: str) -> Principal | None:
        self.lookups += 1
        return super().find_by_hash(key_hash)


def test_cache_hides_revocation_only_until_ttl(database: Database) -> None:
    store = _CountingStore(database)
    clock = _Clock()
    auth = Authenticator(store, ttl_seconds=2.0, clock=clock)
    record, key = store.create(role=Role.SERVICE)

    async def scenario() -> list[Principal | None]:
        seen = [await auth.principal_for(key)]
        store.revoke(record.id)
        clock.now = 1.0
        seen.append(await auth.principal_for(key))
        clock.now = 2.5
        seen.append(await auth.principal_for(key))
        return seen

    first, cached, expired = asyncio.run(scenario())
    assert first is not None and cached == first
    assert expired is None
    assert store.lookups == 2


def test_concurrent_misses_share_one_lookup(database: Database) -> None:
    store = _CountingStore(database)
    auth = Authenticator(store, ttl_seconds=60.0)
    _, key = store.create(role=Role.SERVICE)

    async def scenario() -> list[Principal | None]:
        return await asyncio.gather(*(auth.principal_for(key) for _ in range(50)))

    results = asyncio.run(scenario())
    assert all(r is not None for r in results)
    assert store.lookups == 1


def test_unknown_keys_reach_listeners_and_cache_is_bounded(database: Database) -> None:
    store = ApiKeyStore(database)
    auth = Authenticator(store, ttl_seconds=60.0, max_entries=10)
    heard: list[tuple[str, str]] = []
    auth.listeners.append(lambda digest, source: heard.append((digest, source)))

    async def scenario() -> None:
        for i in range(30):
            assert await auth.principal_for(f"shx_unknown_{i}", source="10.0.0.1") is None
        assert await auth.principal_for("shx_unknown_29", source="10.0.0.2") is None

    asyncio.run(scenario())
    assert len(heard) == 31
    assert heard[0] == (hash_key("shx_unknown_0"), "10.0.0.1")
    assert heard[-1] == (hash_key("shx_unknown_29"), "10.0.0.2")
    assert len(auth._cache) == 10


def test_tenant_scoping_rules() -> None:
    scoped = Principal(key_id="k", role=Role.SERVICE, tenant="acme", name="")
    unscoped = Principal(key_id="a", role=Role.ADMIN, tenant=None, name="")
    assert scoped.tenant_for(None) == "acme"
    assert scoped.tenant_for("acme") == "acme"
    with pytest.raises(Problem) as forbidden:
        scoped.tenant_for("globex")
    assert forbidden.value.status == 403
    assert unscoped.tenant_for("globex") == "globex"
    with pytest.raises(Problem) as required:
        unscoped.tenant_for(None)
    assert required.value.status == 422
    assert scoped.can_see("acme") and not scoped.can_see("globex")
    assert unscoped.can_see("globex")
