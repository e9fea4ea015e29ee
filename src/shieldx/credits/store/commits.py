"""The writing side of the event store: one group commit per transaction, on one connection.

`CommitStore` runs in the commit process (see writer/process.py) - or, optionally, in a thread of
the service - and is deliberately import-light: the DBAPI driver, hashlib and orjson. Per
group commit it: takes the write lock (SQLite `BEGIN IMMEDIATE`; PostgreSQL: the chain-head
row), links each new event to its stream's previous event and chains its hash, moves the
chain head with a compare-and-set, writes the batch's rows with one statement per table,
updates each touched balance only if it still holds the version the commands were decided
on (optimistic concurrency), projects history and usage in SQL when due, and commits.
"""

from __future__ import annotations

import contextlib
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, NamedTuple

from shieldx.credits.ledger.chain import link
from shieldx.credits.store import sql as q
from shieldx.credits.store.records import AccountKey, Plan, Row, StoreConflict, StoreUnavailable
from shieldx.credits.store.sql import HISTORY_PROJECTION, USAGE_PROJECTION

_LAST_POSITIONS_LIMIT = 1_000_000


class CommitStore(ABC):
    """Group commits and projection steps on one DBAPI connection (see module docstring);
    subclasses (sqlite.py, postgres.py) supply the backend's connection, locking and placeholders."""

    backend: str  # "sqlite" or "postgresql": which projection statements apply
    conflicts: tuple[type[Exception], ...]  # the driver's errors meaning "reload and retry"
    unavailable: tuple[type[Exception], ...]  # the driver's errors meaning "cannot commit"

    def __init__(
        self,
        conn: Any,
        *,
        project_interval: float = 0.05,
        project_chunk: int = 20_000,
    ) -> None:
        self.conn = conn
        self.config: dict[str, Any] = {}  # what connect() was given: reconnect() uses it again
        self.project_interval = project_interval
        self.project_chunk = project_chunk
        self.since: tuple[int, bytes] | None = None  # the head after our last commit
        self.projected: int | None = None  # where history and usage stand (tracked)
        self.last_projection = 0.0
        self.urgent = False  # a reader waits for the projections
        self.projecting: int | None = None  # reached inside the open transaction
        # Position of the last event of every stream this writer appended to (the next
        # event's prev link); streams it does not know are looked up in the balance rows.
        self.last_positions: dict[AccountKey, int] = {}
        self._sql: dict[str, str] = {}
        self._history_sql, self._usage_sql = (
            self.sql(text) for text in q.projection_sql(self.backend)
        )

    # ------------------------------------------------------------------ backend hooks
    @staticmethod
    @abstractmethod
    def connect(config: dict[str, Any]) -> Any:
        """The DBAPI connection CONFIG (EventStore.commit_config) describes, set up like the
        platform's own connections."""

    def broken(self) -> bool:
        """Whether the connection is lost (the server went away: reconnect before the next commit)."""
        return False

    def reconnect(self) -> None:
        """Replace a lost connection (after a failover, with the new primary); raises
        StoreUnavailable while no server can be reached."""
        with contextlib.suppress(Exception):  # the old connection is already gone
            self.conn.close()
        try:
            self.conn = self.connect(self.config)
        except self.unavailable as exc:
            raise StoreUnavailable(f"cannot reconnect: {exc}") from exc
        self.since = None
        self.last_positions.clear()
        self.projecting = None

    def confirm(self) -> None:
        """After COMMIT, before the batch is acknowledged: raise StoreUnavailable if the server
        may no longer accept writes (the fence; see postgres.py)."""
        return None

    @abstractmethod
    def _placeholders(self, text: str) -> str:
        """TEXT with '?' placeholders in this driver's style."""

    @abstractmethod
    def _begin(self, cur: Any) -> None:
        """Start a write transaction that excludes other writers."""

    @abstractmethod
    def _end(self, cur: Any, *, commit: bool) -> None:
        """Commit or roll back the current transaction."""

    @abstractmethod
    def _lock_head(self, cur: Any) -> tuple[int, bytes]:
        """Read the chain head under the write lock."""

    def sql(self, text: str) -> str:
        """TEXT in this driver's placeholder style."""
        cached = self._sql.get(text)
        if cached is None:
            cached = self._sql[text] = self._placeholders(text)
        return cached

    # ------------------------------------------------------------------ transactions
    def head(self) -> tuple[int, bytes]:
        """The chain head as committed (outside any transaction)."""
        cur = self.conn.cursor()
        try:
            self._begin(cur)
            cur.execute(q.SELECT_HEAD)
            position, digest = cur.fetchone()
            cur.execute(self.sql(q.expand(q.TRACKING, 1)), (HISTORY_PROJECTION,))
            row = cur.fetchone()
            self.projected = int(row[1]) if row else 0
            self._end(cur, commit=False)
        finally:
            cur.close()
        self.since = (int(position), bytes.fromhex(digest))
        return self.since

    def commit(self, plan: Plan) -> tuple[int, int, str, list[AccountKey], int]:
        """Write PLAN in one transaction: (first position, head position, head hash hex,
        accounts other writers changed since our last commit, projected position).
        Raises StoreConflict (reload and retry) or StoreUnavailable."""
        cur = self.conn.cursor()
        try:
            self._begin(cur)
            result = self._commit(cur, plan)
            self._end(cur, commit=True)
        except StoreConflict:
            self._abort(cur)
            raise
        except self.conflicts as exc:
            self._abort(cur)
            raise StoreConflict(None) from exc
        except self.unavailable as exc:
            self._abort(cur)
            raise StoreUnavailable(str(exc)) from exc
        finally:
            cur.close()
        try:
            self.confirm()
        except StoreUnavailable:
            self.since = None
            self.last_positions.clear()
            self.projecting = None
            raise
        first, head, digest, foreign, last_of = result
        self.since = (head, digest)
        positions = self.last_positions
        if len(positions) > _LAST_POSITIONS_LIMIT:
            positions.clear()
        positions.update(last_of)
        reached, self.projecting = self.projecting, None
        if reached is not None:
            self.projected = reached
            self.last_projection = time.monotonic()
            self.urgent = self.urgent and reached < head
        return first, head, digest.hex(), foreign, self.projected or 0

    def _abort(self, cur: Any) -> None:
        self.since = None
        self.last_positions.clear()
        self.projecting = None
        try:
            self._end(cur, commit=False)
        except Exception as exc:  # the connection itself is gone
            raise StoreUnavailable(f"rollback failed: {exc}") from exc

    def _commit(
        self, cur: Any, plan: Plan
    ) -> tuple[int, int, bytes, list[AccountKey], dict[AccountKey, int]]:
        since = self.since
        foreign: list[AccountKey] = []
        if since is None:
            since = self._lock_head(cur)
        elif plan.events:
            # The usual case costs one statement: the head moves only if it is still ours.
            cur.execute(self.sql(q.ADVANCE_HEAD), (since[0], since[1].hex(), since[0]))
            if cur.rowcount != 1:
                head = self._lock_head(cur)
                cur.execute(self.sql(q.CHANGED_SINCE), (since[0],))
                foreign = [(t, a) for t, a in cur.fetchall()]
                for key in foreign:
                    self.last_positions.pop(key, None)
                since = head
        first = since[0] + 1
        rows, last_of = self._chain(cur, plan.events, since)
        head = (since[0] + len(rows), rows[-1][14] if rows else since[1])
        if rows:
            cur.execute(self.sql(q.SET_HEAD), (head[0], head[1].hex()))
            cur.executemany(self.sql(q.INSERT_EVENT), rows)
        self._write_rows(cur, plan, first)
        self._maybe_project(cur, head[0])
        return first, head[0], head[1], foreign, last_of

    def _chain(
        self, cur: Any, events: list[Row], since: tuple[int, bytes]
    ) -> tuple[list[Row], dict[AccountKey, int]]:
        """Event rows with position, prev link and hash; each stream's last position."""
        known = self.last_positions
        last_of: dict[AccountKey, int] = {}
        missing = {(e[0], e[1]) for e in events if e[2] > 1 and (e[0], e[1]) not in known}
        if missing:
            last_of.update(self._stream_heads(cur, missing))
        position, digest = since
        rows: list[Row] = []
        for (
            tenant,
            account,
            version,
            type_,
            amount,
            balance,
            held,
            reason,
            tx,
            data,
            at,
            key,
        ) in events:
            position += 1
            stream = (tenant, account)
            prev = None
            if version > 1:
                prev = last_of.get(stream) or known.get(stream)
                if prev is None:  # the read model lost the stream's head: do not guess
                    raise StoreUnavailable(f"no balance row for {tenant}/{account}")
            row = (
                position, tenant, account, version, prev, type_, amount, balance, held, reason,
                tx, data, at, key,
            )  # fmt: skip
            digest = link(digest, row)
            rows.append((*row, digest))
            last_of[stream] = position
        return rows, last_of

    def _stream_heads(self, cur: Any, keys: set[AccountKey]) -> dict[AccountKey, int]:
        found: dict[AccountKey, int] = {}
        for tenant, accounts in q.by_tenant(keys):
            for chunk in q.chunks(accounts):
                cur.execute(self.sql(q.expand(q.STREAM_HEADS, len(chunk))), (tenant, *chunk))
                for account, last in cur.fetchall():
                    found[(tenant, account)] = int(last)
        return found

    def _write_rows(self, cur: Any, plan: Plan, first: int) -> None:
        many, sql = cur.executemany, self.sql
        if plan.commands:
            many(sql(q.INSERT_COMMAND), plan.commands)
        if plan.hold_inserts:
            many(sql(q.INSERT_HOLD), plan.hold_inserts)
        if plan.hold_updates:
            many(sql(q.RESOLVE_HOLD), plan.hold_updates)
        if plan.grant_inserts:
            many(sql(q.INSERT_GRANT), plan.grant_inserts)
        if plan.grant_updates:
            many(sql(q.UPDATE_GRANT), plan.grant_updates)
        if plan.balances:
            self._write_balances(cur, plan.balances, first)
        if plan.snapshots:
            snapshots = [(t, a, v, first + i, at, s) for t, a, v, i, at, s in plan.snapshots]
            many(sql(q.INSERT_SNAPSHOT), snapshots)
        if plan.thresholds:
            many(sql(q.UPSERT_THRESHOLD), plan.thresholds)
        if plan.alerts:
            alerts = [(*r[:5], first + r[5], *r[6:]) for r in plan.alerts]
            many(sql(q.INSERT_ALERT), alerts)
        if plan.payments:
            many(sql(q.INSERT_PAYMENT), plan.payments)

    def _write_balances(self, cur: Any, balances: list[Row], first: int) -> None:
        updates = [
            (b, h, av, v, first + i, at, t, a, base)
            for t, a, b, h, av, v, base, i, at in balances
            if base
        ]
        if updates:
            cur.executemany(self.sql(q.UPDATE_BALANCE), updates)
            if cur.rowcount != len(updates):
                raise StoreConflict(None)  # another writer appended to one of these streams
        if len(updates) < len(balances):
            inserts = [
                (t, a, b, h, av, v, first + i, at)
                for t, a, b, h, av, v, base, i, at in balances
                if not base
            ]
            cur.executemany(self.sql(q.INSERT_BALANCE), inserts)

    # ------------------------------------------------------------------ projections
    def behind(self) -> bool:
        """Whether history and usage lag behind what this writer committed."""
        return self.since is not None and (self.projected or 0) < self.since[0]

    def until_due(self) -> float | None:
        """Seconds until a projection step is due (None: nothing to project)."""
        if not self.behind():
            return None
        if self.urgent:
            return 0.0
        return max(0.0, self.last_projection + self.project_interval - time.monotonic())

    def _maybe_project(self, cur: Any, head: int) -> None:
        """Project up to HEAD inside the group commit when due (a timer, or a reader waiting):
        no transaction of its own, and many commits' events per step."""
        if not self.urgent and time.monotonic() - self.last_projection < self.project_interval:
            return
        self.projecting = self._project(cur, head)

    def _project(self, cur: Any, head: int) -> int | None:
        cur.execute(self.sql(q.expand(q.TRACKING, 1)), (HISTORY_PROJECTION,))
        projected = int(cur.fetchone()[1])
        upto = min(head, projected + self.project_chunk)
        return project(cur, self.sql, self._history_sql, self._usage_sql, projected, upto).reached

    def project_now(self) -> int:
        """Project what is behind in a transaction of its own (idle, or asked); the position."""
        cur = self.conn.cursor()
        try:
            self._begin(cur)
            cur.execute(q.SELECT_HEAD)
            head = int(cur.fetchone()[0])
            reached = self._project(cur, head)
            self._end(cur, commit=True)
        except self.unavailable as exc:
            self._abort(cur)
            raise StoreUnavailable(str(exc)) from exc
        finally:
            cur.close()
        self.last_projection = time.monotonic()
        if reached is not None:
            self.projected = reached
        if self.since is not None and self.since[0] < head:
            self.since = None  # another writer moved the head: read it at the next commit
        if reached is None or reached >= head:
            self.urgent = False
        return self.projected or 0


class Step(NamedTuple):
    """The outcome of one projection step."""

    reached: int | None  # the new position (None: another runner moved the tracking first)
    gap: int | None  # the missing position the step stopped at, if it stopped at a gap


def project(cur: Any, sql: Callable[[str], str], history: str, usage: str, after: int,
            upto: int) -> Step:  # fmt: skip
    """Project the events after AFTER up to UPTO - only the contiguous run of positions, so
    an event committed later at a lower position is never skipped - and move both tracking
    rows from AFTER with a compare-and-set (if another runner moved them first, nothing is
    written). HISTORY and USAGE are the statements of `statements.projection_sql`."""
    if upto <= after:
        return Step(after, None)
    cur.execute(sql(_RANGE), (after, upto))
    count, highest = cur.fetchone()
    gap = None
    if not count:
        return Step(after, None)
    if count != int(highest) - after:  # a gap: stop right before it
        cur.execute(sql(_POSITIONS), (after, upto))
        upto = after
        for (position,) in cur.fetchall():
            if position != upto + 1:
                break
            upto = position
        gap = upto + 1
        if upto == after:
            return Step(after, gap)
    else:
        upto = int(highest)
    cur.execute(sql(_ADVANCE), (upto, time.time_ns() // 1000, after))
    if cur.rowcount != 2:
        return Step(None, gap)
    cur.execute(history, (after, upto))
    cur.execute(usage, (after, upto) * q.USAGE_SCANS)
    return Step(upto, gap)


_RANGE = "SELECT COUNT(*), MAX(position) FROM event_store WHERE position > ? AND position <= ?"
_POSITIONS = (
    "SELECT position FROM event_store WHERE position > ? AND position <= ? ORDER BY position"
)
_ADVANCE = (
    "UPDATE projection_tracking SET position = ?, updated_at_us = ?"  # noqa: S608 (fixed names)
    f" WHERE name IN ('{HISTORY_PROJECTION}', '{USAGE_PROJECTION}') AND position = ?"
)
