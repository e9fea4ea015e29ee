"""Rule sets in the database: named, versioned, immutable, one sequence of versions per tenant.

A new version is max(version) + 1 for (tenant, name); the unique constraint makes two
concurrent creations on PostgreSQL collide instead of sharing a number, and the loser
retries. Nothing here ever updates or deletes a stored version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson
import sqlalchemy as sa

from shieldx.platform.db import Database
from shieldx.shadow.rules.domain import Action, ErrorPolicy, Rule
from shieldx.shadow.tables import rulesets
from shieldx.shadow.timeutil import utc

_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class StoredRuleSet:
    """A stored rule set version as written."""

    tenant: str
    name: str
    version: int
    on_error: ErrorPolicy
    rules: tuple[Rule, ...]
    created_at: datetime
    created_by: str


@dataclass(frozen=True, slots=True)
class RuleSetSummary:
    """One rule set name of a tenant: its latest version and how many exist."""

    name: str
    latest_version: int
    versions: int
    updated_at: datetime


def encode_rules(rules: Sequence[Rule]) -> str:
    """The stored text of a rule list (field order fixed, so equal rules give equal text)."""
    return orjson.dumps(
        [
            {
                "id": r.id,
                "description": r.description,
                "expression": r.expression,
                "action": str(r.action),
                "priority": r.priority,
            }
            for r in rules
        ]
    ).decode()


def decode_rules(text: str) -> tuple[Rule, ...]:
    """Rules from their stored text."""
    return tuple(
        Rule(d["id"], d["expression"], Action(d["action"]), d["priority"], d["description"])
        for d in orjson.loads(text)
    )


class RuleSetStore:
    """Blocking access to stored rule sets; callers run it in worker threads."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def insert_next(
        self,
        *,
        tenant: str,
        name: str,
        on_error: ErrorPolicy,
        rules: Sequence[Rule],
        created_by: str,
        now: datetime,
    ) -> int:
        """Store RULES as the next version of (tenant, name) and return that version."""
        payload = encode_rules(rules)
        for attempt in range(_ATTEMPTS):
            try:
                with self._db.write() as conn:
                    latest = conn.execute(
                        sa.select(sa.func.max(rulesets.c.version)).where(
                            rulesets.c.tenant == tenant, rulesets.c.name == name
                        )
                    ).scalar_one()
                    version = int(latest or 0) + 1
                    conn.execute(
                        rulesets.insert().values(
                            tenant=tenant,
                            name=name,
                            version=version,
                            on_error=str(on_error),
                            rules=payload,
                            rule_count=len(rules),
                            created_at=now,
                            created_by=created_by,
                        )
                    )
                    return version
            except sa.exc.IntegrityError:
                if attempt == _ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def get(self, tenant: str, name: str, version: int | None = None) -> StoredRuleSet | None:
        """One version of a rule set (the latest when VERSION is None), or None."""
        query = sa.select(rulesets).where(rulesets.c.tenant == tenant, rulesets.c.name == name)
        if version is None:
            query = query.order_by(rulesets.c.version.desc()).limit(1)
        else:
            query = query.where(rulesets.c.version == version)
        with self._db.read() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        m = row._mapping
        return StoredRuleSet(
            tenant=m["tenant"],
            name=m["name"],
            version=int(m["version"]),
            on_error=ErrorPolicy(m["on_error"]),
            rules=decode_rules(m["rules"]),
            created_at=utc(m["created_at"]),
            created_by=m["created_by"],
        )

    def versions(self, tenant: str, name: str) -> list[tuple[int, int, datetime]]:
        """(version, rule count, created_at) of every version of a name, oldest first."""
        query = (
            sa.select(rulesets.c.version, rulesets.c.rule_count, rulesets.c.created_at)
            .where(rulesets.c.tenant == tenant, rulesets.c.name == name)
            .order_by(rulesets.c.version)
        )
        with self._db.read() as conn:
            return [(int(v), int(c), utc(at)) for v, c, at in conn.execute(query)]

    def summaries(self, tenant: str) -> list[RuleSetSummary]:
        """Every rule set name of TENANT, by name."""
        query = (
            sa.select(
                rulesets.c.name,
                sa.func.max(rulesets.c.version),
                sa.func.count(),
                sa.func.max(rulesets.c.created_at),
            )
            .where(rulesets.c.tenant == tenant)
            .group_by(rulesets.c.name)
            .order_by(rulesets.c.name)
        )
        with self._db.read() as conn:
            return [
                RuleSetSummary(name, int(latest), int(count), utc(at))
                for name, latest, count, at in conn.execute(query)
            ]
