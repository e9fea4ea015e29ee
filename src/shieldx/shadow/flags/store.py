"""Feature flags in the database, one row per (tenant, key); every change bumps flags_version."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from shieldx.platform.db import Database
from shieldx.shadow.flags.domain import Flag, Rollout, TargetingRule
from shieldx.shadow.tables import feature_flags
from shieldx.shadow.timeutil import utc
from shieldx.shadow.versions import Versions, bump, read_versions


class FlagExists(Exception):
    """A flag with that key already exists for the tenant."""


@dataclass(frozen=True, slots=True)
class StoredFlag:
    """A flag row: its definition (uncompiled), revision and times."""

    tenant: str
    key: str
    enabled: bool
    definition: dict[str, Any]
    revision: int
    created_at: datetime
    updated_at: datetime


def definition_of(flag: Flag) -> dict[str, Any]:
    """The stored form of a flag (everything but its key and kill switch)."""
    rollout = flag.rollout
    return {
        "variants": dict(flag.variants),
        "default_variant": flag.default_variant,
        "targeting": [{"expression": r.expression, "variant": r.variant} for r in flag.targeting],
        "rollout": None
        if rollout is None
        else {
            "variant": rollout.variant,
            "percentage": rollout.percentage,
            "stickiness": rollout.stickiness,
        },
    }


def compile_flag(key: str, enabled: bool, definition: Mapping[str, Any]) -> Flag:
    """Compile a stored or submitted definition; raise InvalidFlag."""
    rollout = definition.get("rollout")
    return Flag.compile(
        key,
        definition["variants"],
        definition["default_variant"],
        enabled=enabled,
        targeting=[TargetingRule(r["expression"], r["variant"]) for r in definition["targeting"]],
        rollout=None
        if rollout is None
        else Rollout(rollout["variant"], rollout["percentage"], rollout["stickiness"]),
    )


class FlagStore:
    """Blocking access to feature flags."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, tenant: str, flag: Flag, now: datetime) -> StoredFlag:
        """Store a new flag; raise FlagExists."""
        t = feature_flags
        row = {
            "tenant": tenant,
            "key": flag.key,
            "enabled": flag.enabled,
            "definition": orjson.dumps(definition_of(flag)).decode(),
            "revision": 1,
            "created_at": now,
            "updated_at": now,
        }
        with self._db.write() as conn:
            bump(conn, "flags_version")  # first: its row lock serialises writers on PostgreSQL
            if conn.execute(
                sa.select(t.c.key).where(t.c.tenant == tenant, t.c.key == flag.key)
            ).first():
                raise FlagExists(flag.key)
            conn.execute(t.insert().values(**row))
        return _stored(row)

    def replace(self, tenant: str, flag: Flag, now: datetime) -> StoredFlag | None:
        """Overwrite an existing flag's definition and switch; None when there is no such flag."""
        t = feature_flags
        where = sa.and_(t.c.tenant == tenant, t.c.key == flag.key)
        with self._db.write() as conn:
            changed = conn.execute(
                t.update()
                .where(where)
                .values(
                    enabled=flag.enabled,
                    definition=orjson.dumps(definition_of(flag)).decode(),
                    revision=t.c.revision + 1,
                    updated_at=now,
                )
            ).rowcount
            if not changed:
                return None
            bump(conn, "flags_version")
            row = conn.execute(sa.select(t).where(where)).one()
        return _stored(row._mapping)

    def delete(self, tenant: str, key: str) -> bool:
        """Delete a flag; False when there was none."""
        t = feature_flags
        with self._db.write() as conn:
            deleted = conn.execute(t.delete().where(t.c.tenant == tenant, t.c.key == key)).rowcount
            if deleted:
                bump(conn, "flags_version")
            return bool(deleted)

    def get(self, tenant: str, key: str) -> StoredFlag | None:
        """One flag, or None."""
        t = feature_flags
        with self._db.read() as conn:
            row = conn.execute(sa.select(t).where(t.c.tenant == tenant, t.c.key == key)).first()
        return None if row is None else _stored(row._mapping)

    def snapshot(self) -> tuple[Versions, list[StoredFlag]]:
        """Every flag of every tenant, with the version counters read in the same transaction."""
        with self._db.read() as conn:
            versions = read_versions(conn)
            rows = conn.execute(
                sa.select(feature_flags).order_by(feature_flags.c.tenant, feature_flags.c.key)
            )
            return versions, [_stored(row._mapping) for row in rows]


def _stored(m: Mapping[str, Any] | sa.RowMapping) -> StoredFlag:
    return StoredFlag(
        tenant=m["tenant"],
        key=m["key"],
        enabled=bool(m["enabled"]),
        definition=orjson.loads(m["definition"]),
        revision=int(m["revision"]),
        created_at=utc(m["created_at"]),
        updated_at=utc(m["updated_at"]),
    )
