"""Read models derived from the event store, and what keeps them current.

- credit_balances_read_model is written by the group commit itself (same transaction);
- credit_history and credit_usage are projections tracked in projection_tracking. Each
  projection step is two INSERT ... SELECT statements over a range of positions (the event
  rows carry every field these read models need), so no Python loop runs per event. The
  commit process runs the steps inside its group commits when they are due (store/commits.py);
  `ProjectionRunner` runs them on its own for events written by other means. A step only
  advances over a contiguous run of positions: a transaction that commits a later position
  before an earlier one (the PostgreSQL sequence "gap" problem) makes it wait, never skip.
`rebuild` recomputes all three from the events alone and checks, in SQL, that every event's
recorded balance follows from the one before it in its stream.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from shieldx.credits.store import sql as q
from shieldx.credits.store.base import EventStore
from shieldx.credits.store.commits import Step, project
from shieldx.credits.store.sql import HISTORY_PROJECTION, USAGE_PROJECTION

log = structlog.get_logger("shieldx.credits")

_REBUILD_BALANCES = (
    "INSERT INTO credit_balances_read_model (tenant, account_id, balance, held, available,"
    " version, last_position, updated_at_us) SELECT e.tenant, e.account_id, e.balance, e.held,"
    " e.balance - e.held, e.version, e.position, e.at_us FROM event_store e"
    " JOIN (SELECT MAX(position) AS position FROM event_store GROUP BY tenant, account_id) m"
    " ON e.position = m.position"
)


class ProjectionRunner:
    """Brings history and usage up to the event store on its own; never skips a position."""

    def __init__(self, store: EventStore, *, chunk: int = 50_000, gap_warning: float = 5.0):
        self.store = store
        self.chunk = chunk
        self.gap_warning = gap_warning
        self.position = 0
        self.waiting_for: int | None = None  # the missing position while a gap lasts
        self._gap_since: float | None = None
        self._history, self._usage = (store.sql(s) for s in q.projection_sql(store.db.backend))

    def catch_up_once(self) -> int:
        """Project the next contiguous run of events; how many (0 at a gap or at the end)."""
        with self.store.writing() as cur:
            cur.execute(self.store.sql(q.expand(q.TRACKING, 1)), (HISTORY_PROJECTION,))
            tracked = int(cur.fetchone()[1])
            step = project(
                cur, self.store.sql, self._history, self._usage, tracked, tracked + self.chunk
            )
        self._note_gap(step)
        self.position = tracked if step.reached is None else step.reached
        return self.position - tracked

    def _note_gap(self, step: Step) -> None:
        if step.gap is None:
            self.waiting_for = self._gap_since = None
            return
        now = time.monotonic()
        if self.waiting_for != step.gap:
            self.waiting_for, self._gap_since = step.gap, now
        elif self._gap_since is not None and now - self._gap_since > self.gap_warning:
            log.warning("credits.projection_gap", waiting_for=step.gap)
            self._gap_since = now


class ProjectionStatus:
    """Where history and usage stand, as the commit process reports it; readers wait here."""

    def __init__(self, request: Callable[[], None]) -> None:
        self.position = 0
        self._request = request  # asks the commit process to project now
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    def update(self, position: int) -> None:
        """The projections reached POSITION."""
        if position <= self.position:
            return
        self.position = position
        if self._waiters:
            keep = []
            for wanted, future in self._waiters:
                if future.done():
                    continue
                if position >= wanted:
                    future.set_result(None)
                else:
                    keep.append((wanted, future))
            self._waiters = keep

    async def wait_for(self, position: int, *, within: float) -> bool:
        """Wait until POSITION is projected (True) or WITHIN seconds pass (False)."""
        if self.position >= position:
            return True
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((position, future))
        self._request()
        try:
            await asyncio.wait_for(asyncio.shield(future), within)
        except TimeoutError:
            return False
        return True


@dataclass
class RebuildReport:
    """What a rebuild did."""

    events: int
    accounts: int
    history_rows: int
    usage_rows: int
    seconds: float
    check_seconds: float


class InconsistentLedger(Exception):
    """An event's recorded balance does not follow from the events before it."""


def rebuild(
    store: EventStore, *, chunk: int = 200_000, progress: Callable[[int, int], None] | None = None
) -> RebuildReport:
    """Recompute every read model from the events in one transaction (writers wait meanwhile)."""
    started = time.perf_counter()
    sql = store.sql
    history, usage = (sql(s) for s in q.projection_sql(store.db.backend))
    check = sql(q.balance_check_sql(store.db.backend))
    check_seconds = 0.0
    with store.writing() as cur:
        head, _ = store._lock_head(cur)
        for table in ("credit_balances_read_model", "credit_history", "credit_usage"):
            cur.execute(f"DELETE FROM {table}")  # noqa: S608 (fixed names)
        cur.execute(
            sql("UPDATE projection_tracking SET position = 0 WHERE name IN (?, ?)"),
            (HISTORY_PROJECTION, USAGE_PROJECTION),
        )
        after = 0
        while after < head:
            upto = min(head, after + chunk)
            t0 = time.perf_counter()
            cur.execute(check, (after, upto))
            bad = cur.fetchone()[0]
            check_seconds += time.perf_counter() - t0
            if bad is not None:
                raise InconsistentLedger(
                    f"the balance recorded at position {bad} does not follow from the events"
                    " before it in its stream"
                )
            step = project(cur, sql, history, usage, after, upto)
            if step.reached is None or step.reached < upto:
                raise InconsistentLedger(f"position {after if step.gap is None else step.gap}"
                                         " is missing from the event store")  # fmt: skip
            after = step.reached
            if progress is not None:
                progress(after, head)
        cur.execute(sql(_REBUILD_BALANCES))
        counts = []
        for table in ("credit_balances_read_model", "credit_history", "credit_usage"):
            cur.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608 (fixed names)
            counts.append(int(cur.fetchone()[0]))
    return RebuildReport(
        head, counts[0], counts[1], counts[2], time.perf_counter() - started, check_seconds
    )
