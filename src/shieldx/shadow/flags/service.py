"""Feature flags, the application layer: CRUD and evaluation from an in-memory compiled copy.

Freshness (the kill switch): every write in this process reloads the copy before it
returns. For writes in other processes each evaluation first compares flags_version with
the one loaded: on SQLite through a private read-only connection on the event loop (a few
microseconds), on PostgreSQL with a query in a worker thread; only when it moved are the
flags reloaded. shadow.flag_max_staleness > 0 trades that check for a bounded delay.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import anyio.to_thread

from shieldx.platform.db import Database
from shieldx.platform.errors import Problem
from shieldx.shadow.flags.domain import Flag, InvalidFlag, Resolution
from shieldx.shadow.flags.store import FlagExists, FlagStore, StoredFlag, compile_flag
from shieldx.shadow.timeutil import Clock, iso
from shieldx.shadow.versions import SqliteVersionProbe, fetch_versions

FlagKey = tuple[str, str]


def flag_doc(stored: StoredFlag) -> dict[str, Any]:
    """A flag as the API shows it."""
    return {
        "key": stored.key,
        "tenant": stored.tenant,
        "enabled": stored.enabled,
        **stored.definition,
        "revision": stored.revision,
        "created_at": iso(stored.created_at),
        "updated_at": iso(stored.updated_at),
    }


def resolution_doc(key: str, resolution: Resolution) -> dict[str, Any]:
    """An OpenFeature-shaped evaluation result."""
    doc: dict[str, Any] = {
        "key": key,
        "value": resolution.value,
        "variant": resolution.variant,
        "reason": resolution.reason.value,
    }
    if resolution.error_code is not None:
        doc["error_code"] = resolution.error_code.value
        doc["error_message"] = resolution.error_message
    return doc


class FlagService:
    """Flags of every tenant, compiled in memory and kept in step with the database."""

    def __init__(
        self,
        *,
        db: Database,
        store: FlagStore,
        clock: Clock,
        probe: SqliteVersionProbe | None,
        max_staleness: float = 0.0,
        max_cost: int | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self.store = store
        self.clock = clock
        self._probe = probe
        self._max_staleness = max_staleness
        self._max_cost = max_cost
        self._monotonic = monotonic
        self._flags: dict[FlagKey, tuple[int, Flag, StoredFlag]] = {}
        self._applied = -1
        self._swap = threading.Lock()
        self._reload: asyncio.Lock | None = None
        self._last_checked = float("-inf")
        self.reloads = 0

    def load(self) -> None:
        """Blocking: reload every flag, recompiling only those whose revision changed."""
        versions, rows = self.store.snapshot()
        with self._swap:
            if versions.flags < self._applied:
                return
            old = self._flags
        fresh: dict[FlagKey, tuple[int, Flag, StoredFlag]] = {}
        for row in rows:
            key = (row.tenant, row.key)
            known = old.get(key)
            if known is not None and known[0] == row.revision:
                fresh[key] = known
                continue
            fresh[key] = (row.revision, compile_flag(row.key, row.enabled, row.definition), row)
        with self._swap:
            if versions.flags >= self._applied:
                self._flags, self._applied = fresh, versions.flags
                self.reloads += 1

    async def ensure_fresh(self) -> None:
        """Return once this process's flags are at least as new as the database's."""
        if self._max_staleness > 0:
            now = self._monotonic()
            if now - self._last_checked <= self._max_staleness:
                return
            self._last_checked = now
        versions = self._probe.read() if self._probe is not None else None
        if versions is None:
            versions = await anyio.to_thread.run_sync(fetch_versions, self._db)
        if versions.flags == self._applied:
            return
        if self._reload is None:
            self._reload = asyncio.Lock()
        async with self._reload:  # one reload serves every request that noticed the change
            if versions.flags > self._applied:
                await anyio.to_thread.run_sync(self.load)

    def evaluate(self, tenant: str, key: str, context: Mapping[str, object]) -> dict[str, Any]:
        """Resolve a flag for a context; 404 (error_code FLAG_NOT_FOUND) when it does not exist."""
        found = self._flags.get((tenant, key))
        if found is None:
            raise Problem(
                404, f"no flag {key!r}", type="flag-not-found", error_code="FLAG_NOT_FOUND"
            )
        return resolution_doc(key, found[1].evaluate(context))

    def resolve(
        self, tenant: str, key: str, context: Mapping[str, object]
    ) -> tuple[Resolution, int] | None:
        """A flag's resolution and the revision that gave it (None when there is no such flag)."""
        found = self._flags.get((tenant, key))
        if found is None:
            return None
        return found[1].evaluate(context), found[0]

    def resolve_all(
        self, tenant: str, context: Mapping[str, object]
    ) -> list[tuple[str, Resolution, int]]:
        """Every flag of a tenant resolved for one context: (key, resolution, revision)."""
        return [
            (key, flag.evaluate(context), revision)
            for (owner, key), (revision, flag, _) in self._flags.items()
            if owner == tenant
        ]

    def for_tenant(self, tenant: str) -> list[dict[str, Any]]:
        """A tenant's flags from the in-memory copy, by key."""
        rows = [entry[2] for (t, _), entry in self._flags.items() if t == tenant]
        return [flag_doc(row) for row in sorted(rows, key=lambda r: r.key)]

    def get(self, tenant: str, key: str) -> dict[str, Any]:
        """One flag (blocking: read from the database)."""
        stored = self.store.get(tenant, key)
        if stored is None:
            raise Problem(404, f"no flag {key!r}", type="flag-not-found")
        return flag_doc(stored)

    def create(
        self, tenant: str, key: str, definition: Mapping[str, Any], enabled: bool
    ) -> dict[str, Any]:
        """Blocking: create a flag; 409 when the key exists, 422 when it does not compile."""
        flag = self._compile(key, enabled, definition)
        try:
            stored = self.store.create(tenant, flag, self.clock())
        except FlagExists:
            raise Problem(
                409, f"flag {key!r} already exists; PUT replaces it", type="flag-exists"
            ) from None
        self.load()
        return flag_doc(stored)

    def replace(
        self, tenant: str, key: str, definition: Mapping[str, Any], enabled: bool
    ) -> dict[str, Any]:
        """Blocking: overwrite a flag (a PATCH merges into the current definition first)."""
        stored = self.store.replace(tenant, self._compile(key, enabled, definition), self.clock())
        if stored is None:
            raise Problem(404, f"no flag {key!r}", type="flag-not-found")
        self.load()
        return flag_doc(stored)

    def delete(self, tenant: str, key: str) -> None:
        """Blocking: delete a flag."""
        if not self.store.delete(tenant, key):
            raise Problem(404, f"no flag {key!r}", type="flag-not-found")
        self.load()

    def stored(self, tenant: str, key: str) -> StoredFlag:
        """Blocking: the current stored flag."""
        stored = self.store.get(tenant, key)
        if stored is None:
            raise Problem(404, f"no flag {key!r}", type="flag-not-found")
        return stored

    def _compile(self, key: str, enabled: bool, definition: Mapping[str, Any]) -> Flag:
        flag = _compile(key, enabled, definition)
        # Flags are evaluated on the event loop every service shares: bound the whole flag.
        if self._max_cost is not None and flag.cost > self._max_cost:
            raise Problem(
                422,
                f"the flag's targeting rules cost {flag.cost} per evaluation together, over the "
                f"budget of {self._max_cost} (setting shadow.inline_cost: flags are evaluated "
                "inline); use fewer or narrower targeting rules",
                type="invalid-flag",
                cost=flag.cost,
                budget=self._max_cost,
            )
        return flag

    def close(self) -> None:
        """Release the probe's connection."""
        if self._probe is not None:
            self._probe.close()


def _compile(key: str, enabled: bool, definition: Mapping[str, Any]) -> Flag:
    try:
        return compile_flag(key, enabled, definition)
    except InvalidFlag as exc:
        raise Problem(422, str(exc), type="invalid-flag") from None
