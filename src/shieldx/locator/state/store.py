"""Signing keys and revocations in the database (SQLAlchemy Core; SQLite and PostgreSQL alike).

One row of `locator_state` carries two counters: the revocation sequence and the key-set
version. Every write that other processes must notice bumps one of them in the same
transaction (which also serialises writers on that row), so a process learns whether
anything changed with one primary-key SELECT and then fetches only what is newer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa

from shieldx.locator.state.versionfile import VersionFile, Versions
from shieldx.platform.db import Database

metadata = sa.MetaData()
signing_keys = sa.Table(
    "locator_signing_keys",
    metadata,
    sa.Column("kid", sa.String(64), primary_key=True),
    sa.Column("algorithm", sa.String(16), nullable=False),
    sa.Column("public_x", sa.String(64), nullable=False),
    # Raw private key sealed with the platform keyring (AES-256-GCM, context bound to kid).
    sa.Column("private_key", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("superseded_at", sa.DateTime(timezone=True)),
    sa.Column("retire_at", sa.DateTime(timezone=True)),
    sa.Column("retired_at", sa.DateTime(timezone=True)),
    sa.CheckConstraint("algorithm = 'EdDSA'", name="ck_locator_signing_keys_algorithm"),
)
revocations = sa.Table(
    "locator_revocations",
    metadata,
    sa.Column("jti", sa.String(128), primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_locator_revocations_seq", "seq", unique=True),
    sa.Index("ix_locator_revocations_expires_at", "expires_at"),
)
state = sa.Table(
    "locator_state",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("revocation_seq", sa.BigInteger, nullable=False),
    sa.Column("keys_version", sa.BigInteger, nullable=False),
)
STATE_ROW = 1
KeyStatus = Literal["active", "verifying", "retired"]


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes for timezone-aware columns; they were stored as UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class SigningKeyRecord:
    """A signing key's public half and lifecycle (the sealed private half stays in the row)."""

    kid: str
    public_x: str
    created_at: datetime
    superseded_at: datetime | None
    retire_at: datetime | None
    retired_at: datetime | None

    def status(self, now: datetime) -> KeyStatus:
        """active signs; verifying is superseded but still published; retired is gone."""
        if self.retired_at is not None or (self.retire_at is not None and now >= self.retire_at):
            return "retired"
        return "active" if self.superseded_at is None else "verifying"


@dataclass(frozen=True)
class NewSigningKey:
    """A freshly generated key, private half already sealed."""

    kid: str
    public_x: str
    sealed_private_key: str


def _record(row: sa.Row[tuple[object, ...]]) -> SigningKeyRecord:
    m = row._mapping
    created = _utc(m["created_at"])
    assert created is not None
    return SigningKeyRecord(
        kid=m["kid"],
        public_x=m["public_x"],
        created_at=created,
        superseded_at=_utc(m["superseded_at"]),
        retire_at=_utc(m["retire_at"]),
        retired_at=_utc(m["retired_at"]),
    )


_VERSIONS = sa.select(state.c.revocation_seq, state.c.keys_version).where(state.c.id == STATE_ROW)


def _versions(row: Sequence[Any]) -> Versions:
    return Versions(revocation_seq=int(row[0]), keys_version=int(row[1]))


def read_versions(db: Database) -> Versions:
    """Both counters: one primary-key lookup."""
    with db.read() as conn:
        return _versions(conn.execute(_VERSIONS).one())


class _VersionedStore:
    """Writes that other processes must notice bump a counter and mirror both counters."""

    def __init__(self, db: Database, version_file: VersionFile | None = None) -> None:
        self._db = db
        self._version_file = version_file

    def _bump(self, conn: sa.Connection, column: sa.Column[int]) -> Versions:
        """Increment one counter (taking the state row's lock); both counters after it."""
        query = (
            sa.update(state)
            .where(state.c.id == STATE_ROW)
            .values({column.name: column + 1})
            .returning(state.c.revocation_seq, state.c.keys_version)
        )
        return _versions(conn.execute(query).one())

    def _publish(self, versions: Versions) -> None:
        """Mirror the counters; called last inside the write transaction, before its commit."""
        if self._version_file is not None:
            self._version_file.publish(versions)

    def publish_current(self) -> None:
        """Mirror the counters as they are now, under the write lock (at start-up)."""
        if self._version_file is None:
            return
        with self._db.write() as conn:
            # Updating the row to itself takes the lock a writer would.
            query = (
                sa.update(state)
                .where(state.c.id == STATE_ROW)
                .values(revocation_seq=state.c.revocation_seq)
                .returning(state.c.revocation_seq, state.c.keys_version)
            )
            self._publish(_versions(conn.execute(query).one()))


class SigningKeyStore(_VersionedStore):
    """Signing keys: create (rotating the current one out), list, retire."""

    def records(self) -> list[SigningKeyRecord]:
        """Every key, oldest first (of two created at the same instant, the superseded one)."""
        with self._db.read() as conn:
            records = [_record(row) for row in conn.execute(sa.select(signing_keys))]
        return sorted(records, key=lambda r: (r.created_at, r.superseded_at is None, r.kid))

    def sealed_private_key(self, kid: str) -> str:
        """The sealed private half of KID (decrypted only by the process that signs)."""
        query = sa.select(signing_keys.c.private_key).where(signing_keys.c.kid == kid)
        with self._db.read() as conn:
            return str(conn.execute(query).scalar_one())

    def add(
        self, key: NewSigningKey, *, now: datetime, grace: timedelta, only_if_none: bool = False
    ) -> bool:
        """Make KEY the signing key; the previous one keeps verifying until now + GRACE.

        With ONLY_IF_NONE, nothing happens when an active key exists (first start of
        several processes at once creates one key, not one each). True when KEY was added.
        """
        with self._db.write() as conn:
            versions = self._bump(conn, state.c.keys_version)
            active = signing_keys.c.superseded_at.is_(None) & signing_keys.c.retired_at.is_(None)
            if only_if_none:
                exists = conn.execute(sa.select(signing_keys.c.kid).where(active)).first()
                if exists is not None:
                    self._publish(versions)
                    return False
            conn.execute(
                sa.update(signing_keys)
                .where(active)
                .values(superseded_at=now, retire_at=now + grace)
            )
            conn.execute(
                sa.insert(signing_keys).values(
                    kid=key.kid,
                    algorithm="EdDSA",
                    public_x=key.public_x,
                    private_key=key.sealed_private_key,
                    created_at=now,
                )
            )
            self._publish(versions)
        return True

    def retire(self, kid: str, *, now: datetime) -> None:
        """Retire a superseded key at once; it leaves the JWKS and stops verifying.

        Raises LookupError for an unknown or already retired kid and ValueError for the
        active key (rotate first, so something still signs).
        """
        with self._db.write() as conn:
            versions = self._bump(conn, state.c.keys_version)
            row = conn.execute(sa.select(signing_keys).where(signing_keys.c.kid == kid)).first()
            if row is None:
                raise LookupError(f"no signing key with kid {kid!r}")
            record = _record(row)
            status = record.status(now)
            if status == "retired":
                raise LookupError(f"signing key {kid!r} is already retired")
            if status == "active":
                raise ValueError(f"{kid!r} is the active signing key: rotate first, then retire it")
            conn.execute(
                sa.update(signing_keys).where(signing_keys.c.kid == kid).values(retired_at=now)
            )
            self._publish(versions)

    def retire_due(self, *, now: datetime) -> list[str]:
        """Mark keys whose grace period has ended as retired; return their kids."""
        due = (
            signing_keys.c.retired_at.is_(None)
            & signing_keys.c.retire_at.is_not(None)
            & (signing_keys.c.retire_at <= now)
        )
        with self._db.read() as conn:
            kids = [
                str(k) for k in conn.execute(sa.select(signing_keys.c.kid).where(due)).scalars()
            ]
        if not kids:
            return []
        with self._db.write() as conn:
            versions = self._bump(conn, state.c.keys_version)
            conn.execute(
                sa.update(signing_keys)
                .where(due, signing_keys.c.kid.in_(kids))
                .values(retired_at=signing_keys.c.retire_at)
            )
            self._publish(versions)
        return kids


class RevocationStore(_VersionedStore):
    """Revoked token ids with their expiry, numbered by the revocation sequence."""

    def revoke(self, jti: str, *, expires_at: int, now: datetime) -> bool:
        """Persist a revocation; False when JTI was already revoked."""
        with self._db.write() as conn:
            versions = self._bump(conn, state.c.revocation_seq)
            known = conn.execute(sa.select(revocations.c.jti).where(revocations.c.jti == jti))
            if known.first() is not None:
                self._publish(versions)  # the bump commits too; readers fetch nothing new
                return False
            conn.execute(
                sa.insert(revocations).values(
                    jti=jti, seq=versions.revocation_seq, expires_at=expires_at, revoked_at=now
                )
            )
            self._publish(versions)
        return True

    def since(self, seq: int) -> list[tuple[str, int, int]]:
        """(jti, expires_at, seq) of every revocation numbered above SEQ."""
        query = (
            sa.select(revocations.c.jti, revocations.c.expires_at, revocations.c.seq)
            .where(revocations.c.seq > seq)
            .order_by(revocations.c.seq)
        )
        with self._db.read() as conn:
            return [(str(j), int(e), int(s)) for j, e, s in conn.execute(query)]

    def prune(self, *, expired_before: int) -> int:
        """Delete revocations of tokens that expired before EXPIRED_BEFORE (epoch seconds)."""
        with self._db.write() as conn:
            result = conn.execute(
                sa.delete(revocations).where(revocations.c.expires_at < expired_before)
            )
        return int(result.rowcount)

    def count(self) -> int:
        """How many revocations are stored."""
        with self._db.read() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(revocations)).scalar_one()
            )


def active_kids(records: Sequence[SigningKeyRecord], now: datetime) -> list[str]:
    """The kids whose status is active (normally exactly one)."""
    return [r.kid for r in records if r.status(now) == "active"]
