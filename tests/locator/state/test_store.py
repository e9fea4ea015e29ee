"""Signing keys, revocations and the version row, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from shieldx.locator.state.store import (
    NewSigningKey,
    RevocationStore,
    SigningKeyStore,
    metadata,
    read_versions,
)
from shieldx.locator.state.versionfile import VersionFile, Versions, version_file_for
from shieldx.platform.db import Database

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
GRACE = timedelta(hours=1)


def _key(kid: str) -> NewSigningKey:
    return NewSigningKey(kid=kid, public_x="x" * 43, sealed_private_key=f"v1.k.{kid}")


def test_migration_matches_the_table_definitions(database: Database) -> None:
    with database.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    ours = [d for d in diffs if "locator_" in repr(d)]
    assert ours == []


def test_the_state_row_starts_at_zero(database: Database) -> None:
    assert read_versions(database) == Versions(revocation_seq=0, keys_version=0)


def test_rotation_supersedes_the_active_key_with_a_grace_period(database: Database) -> None:
    store = SigningKeyStore(database)
    assert store.add(_key("a"), now=T0, grace=GRACE)
    assert store.add(_key("b"), now=T0 + timedelta(minutes=5), grace=GRACE)
    a, b = store.records()
    assert (a.kid, b.kid) == ("a", "b")
    assert a.superseded_at == T0 + timedelta(minutes=5)
    assert a.retire_at == T0 + timedelta(minutes=65)
    assert a.status(T0 + timedelta(minutes=10)) == "verifying"
    assert a.status(T0 + timedelta(minutes=65)) == "retired"
    assert b.status(T0 + timedelta(days=300)) == "active"
    assert read_versions(database).keys_version == 2
    assert store.sealed_private_key("b") == "v1.k.b"


def test_only_if_none_creates_one_first_key(database: Database) -> None:
    store = SigningKeyStore(database)
    assert store.add(_key("a"), now=T0, grace=GRACE, only_if_none=True)
    assert not store.add(_key("b"), now=T0, grace=GRACE, only_if_none=True)
    assert [r.kid for r in store.records()] == ["a"]


def test_retire_rules(database: Database) -> None:
    store = SigningKeyStore(database)
    store.add(_key("a"), now=T0, grace=GRACE)
    with pytest.raises(ValueError, match="rotate first"):
        store.retire("a", now=T0)
    store.add(_key("b"), now=T0, grace=GRACE)
    store.retire("a", now=T0 + timedelta(minutes=1))
    assert store.records()[0].status(T0 + timedelta(minutes=1)) == "retired"
    with pytest.raises(LookupError, match="already retired"):
        store.retire("a", now=T0 + timedelta(minutes=2))
    with pytest.raises(LookupError, match="no signing key"):
        store.retire("nope", now=T0)


def test_retire_due_marks_keys_past_their_grace(database: Database) -> None:
    store = SigningKeyStore(database)
    store.add(_key("a"), now=T0, grace=GRACE)
    store.add(_key("b"), now=T0, grace=GRACE)
    assert store.retire_due(now=T0 + timedelta(minutes=59)) == []
    before = read_versions(database).keys_version
    assert store.retire_due(now=T0 + timedelta(minutes=61)) == ["a"]
    assert store.records()[0].retired_at == T0 + GRACE
    assert read_versions(database).keys_version == before + 1


def test_revocations_are_numbered_and_fetched_incrementally(database: Database) -> None:
    store = RevocationStore(database)
    assert store.revoke("j1", expires_at=100, now=T0)
    assert store.revoke("j2", expires_at=200, now=T0)
    assert not store.revoke("j1", expires_at=100, now=T0)
    seq = read_versions(database).revocation_seq
    assert seq == 3
    assert store.since(0) == [("j1", 100, 1), ("j2", 200, 2)]
    assert store.since(1) == [("j2", 200, 2)]
    assert store.since(seq) == []


def test_prune_deletes_only_expired_revocations(database: Database) -> None:
    store = RevocationStore(database)
    store.revoke("old", expires_at=100, now=T0)
    store.revoke("new", expires_at=300, now=T0)
    assert store.prune(expired_before=200) == 1
    assert [jti for jti, _, _ in store.since(0)] == ["new"]
    assert store.count() == 1


def test_writes_mirror_the_counters_into_the_version_file(database: Database) -> None:
    mirror = version_file_for(database)
    if database.backend != "sqlite":
        assert mirror is None  # PostgreSQL may span hosts: readers query it instead
        return
    assert mirror is not None
    other_process_view = VersionFile(mirror.path)
    try:
        revocations = RevocationStore(database, mirror)
        keys = SigningKeyStore(database, mirror)
        assert other_process_view.read() == Versions(0, 0)
        revocations.revoke("j1", expires_at=100, now=T0)
        assert other_process_view.read() == Versions(1, 0) == read_versions(database)
        keys.add(_key("a"), now=T0, grace=GRACE)
        revocations.revoke("j1", expires_at=100, now=T0)  # already revoked: still mirrored
        assert other_process_view.read() == Versions(2, 1) == read_versions(database)
        with pytest.raises(ValueError, match="rotate first"):
            keys.retire("a", now=T0)  # rolled back: the mirror must not run ahead
        assert other_process_view.read() == read_versions(database)
    finally:
        other_process_view.close()
        mirror.close()
    assert mirror.read() is None


def test_publish_current_repairs_a_lost_version_file(database: Database) -> None:
    mirror = version_file_for(database)
    if mirror is None:
        return
    try:
        RevocationStore(database).revoke("j1", expires_at=100, now=T0)  # not mirrored
        assert mirror.read() == Versions(0, 0) != read_versions(database)
        RevocationStore(database, mirror).publish_current()
        assert mirror.read() == read_versions(database) == Versions(1, 0)
    finally:
        mirror.close()
