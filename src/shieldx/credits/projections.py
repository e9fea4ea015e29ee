"""Read models derived from the event store, and the runner that keeps them current.

- credit_balances_read_model is written by the group commit itself (same transaction);
- credit_history and credit_usage are maintained by ProjectionRunner, which reads the event
  store after its tracked position and never skips an event: it only advances over a
  contiguous run of positions, so a transaction that commits a later position before an
  earlier one (the PostgreSQL sequence "gap" problem) makes it wait, not skip.
`rebuild` recomputes all three from the events alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import orjson
import structlog

from shieldx.credits.events import MONEY_TYPES
from shieldx.credits.records import AccountKey, Row
from shieldx.credits.store import EventStore
from shieldx.credits.tables import HISTORY_PROJECTION, USAGE_PROJECTION

log = structlog.get_logger("shieldx.credits")
HOUR_US = 3_600_000_000
_loads = orjson.loads

_INSERT_HISTORY = (
    "INSERT INTO credit_history (position, tenant, account_id, type, amount, balance_after,"
    " available_after, at_us, reason, transaction_id) VALUES (?,?,?,?,?,?,?,?,?,?)"
)
_ADD_USAGE = (
    "INSERT INTO credit_usage (tenant, account_id, bucket_us, kind, reason, amount, count)"
    " VALUES (?,?,?,?,?,?,?) ON CONFLICT (tenant, account_id, bucket_us, kind, reason)"
    " DO UPDATE SET amount = credit_usage.amount + excluded.amount,"
    " count = credit_usage.count + excluded.count"
)
_INSERT_BALANCE = (
    "INSERT INTO credit_balances_read_model (tenant, account_id, balance, held, available,"
    " version, last_position, updated_at_us) VALUES (?,?,?,?,?,?,?,?)"
)
# An account's latest history row, found by walking its stream backwards (stream index).
_LAST_HISTORY = (
    "SELECT h.balance_after, h.available_after FROM event_store e"
    " JOIN credit_history h ON h.position = e.position"
    " WHERE e.tenant = ? AND e.account_id = ? ORDER BY e.version DESC LIMIT 1"
)


def effect(type_: str, amount: int, data: Any) -> tuple[int, int, dict[str, Any] | None]:
    """(balance change, held change, parsed data or None) of one stored event."""
    if type_ == "credits_consumed" or type_ == "grant_expired":
        return -amount, 0, None
    if type_ == "credits_reserved":
        return 0, amount, None
    if type_ == "credits_purchased":
        return amount, 0, None
    if type_ == "hold_committed":
        d = _loads(data)
        return -(amount + d["expired"]), -(amount + d["released"] + d["expired"]), d
    if type_ == "hold_cancelled" or type_ == "hold_expired":
        d = _loads(data)
        return -d["expired"], -amount, d
    return 0, 0, None


def fold_balances(rows: Iterable[Row], into: dict[AccountKey, list[int]]) -> int:
    """Fold event rows into [balance, held, version, last_position, at_us] per account."""
    count = 0
    for position, tenant, account_id, version, type_, amount, data, at_us in rows:
        key = (tenant, account_id)
        state = into.get(key)
        if state is None:
            state = into[key] = [0, 0, 0, 0, 0]
        if type_ == "credits_consumed" or type_ == "grant_expired":
            state[0] -= amount
        elif type_ == "credits_reserved":
            state[1] += amount
        elif type_ == "credits_purchased":
            state[0] += amount
        elif type_ == "hold_committed":
            d = _loads(data)
            state[0] -= amount + d["expired"]
            state[1] -= amount + d["released"] + d["expired"]
        elif type_ == "hold_cancelled" or type_ == "hold_expired":
            state[0] -= _loads(data)["expired"]
            state[1] -= amount
        state[2], state[3], state[4] = version, position, at_us
        count += 1
    return count


class Derivation:
    """Turns event rows into history rows and usage increments (running balances per account)."""

    def __init__(self, start: Mapping[AccountKey, tuple[int, int]] | None = None) -> None:
        self.start = start or {}  # balances before the rows (read, never changed here)
        # (balance, held) per account: tuples of ints, which the garbage collector untracks.
        self.running: dict[AccountKey, tuple[int, int]] = {}
        self.history: list[Row] = []
        self.usage: dict[tuple[str, str, int, str, str], list[int]] = {}

    def add(self, rows: Iterable[Row]) -> None:
        """Derive from ROWS (position order); self.running must hold each account's start."""
        for position, tenant, account_id, _version, type_, amount, data, at_us in rows:
            if type_ not in MONEY_TYPES:
                continue
            d = _loads(data)
            key = (tenant, account_id)
            balance, held = self.running.get(key) or self.start.get(key, (0, 0))
            db, dh, _ = effect(type_, amount, data)
            balance, held = balance + db, held + dh
            self.running[key] = (balance, held)
            reason = d.get("reason", "")
            self.history.append(
                (
                    position,
                    tenant,
                    account_id,
                    type_,
                    amount,
                    balance,
                    balance - held,
                    at_us,
                    reason,
                    d.get("tx"),
                )
            )
            bucket = at_us - at_us % HOUR_US
            for kind, why, value in _usage(type_, amount, d, reason):
                if value:
                    slot = self.usage.setdefault((tenant, account_id, bucket, kind, why), [0, 0])
                    slot[0] += value
                    slot[1] += 1

    def usage_rows(self) -> list[Row]:
        """The usage increments as rows for _ADD_USAGE."""
        return [(*key, amount, count) for key, (amount, count) in self.usage.items()]


def _usage(type_: str, amount: int, d: dict[str, Any], reason: str) -> list[tuple[str, str, int]]:
    # Consumption is broken down by reason and purchases by grant type; the rest are totals.
    if type_ == "credits_purchased":
        return [("purchased", d["kind"], amount)]
    if type_ == "credits_consumed":
        return [("consumed", reason, amount)]
    if type_ == "credits_reserved":
        return [("held", "", amount)]
    if type_ == "hold_committed":
        return [
            ("consumed", reason, amount),
            ("released", "", d["released"]),
            ("expired", "", d["expired"]),
        ]
    if type_ == "hold_cancelled" or type_ == "hold_expired":
        return [("released", "", d["released"]), ("expired", "", d["expired"])]
    return [("expired", "", amount)]  # grant_expired


def contiguous(rows: Sequence[Row], after: int) -> Sequence[Row]:
    """The leading run of ROWS whose positions follow AFTER without a gap."""
    expected = after + 1
    for index, row in enumerate(rows):
        if row[0] != expected:
            return rows[:index]
        expected += 1
    return rows


@dataclass
class RebuildReport:
    """What a rebuild did."""

    events: int
    accounts: int
    history_rows: int
    usage_rows: int
    seconds: float
    fold_seconds: float


def rebuild(
    store: EventStore, *, chunk: int = 50_000, progress: Callable[[int, int], None] | None = None
) -> RebuildReport:
    """Recompute every read model from the events in one transaction (writers wait meanwhile)."""
    started = time.perf_counter()
    folded: dict[AccountKey, list[int]] = {}
    derivation = Derivation()
    fold_time = 0.0
    total = history = 0
    with store.writing() as cur:
        head, _ = store._lock_head(cur)
        for table in ("credit_balances_read_model", "credit_history", "credit_usage"):
            cur.execute(f"DELETE FROM {table}")  # noqa: S608 (fixed names)
        select = store.sql(
            "SELECT position, tenant, account_id, version, type, amount, data, at_us"
            " FROM event_store WHERE position > ? AND position <= ? ORDER BY position LIMIT ?"
        )
        after = 0
        while after < head:
            cur.execute(select, (after, head, chunk))
            rows = cur.fetchall()
            if not rows:
                break
            t0 = time.perf_counter()
            total += fold_balances(rows, folded)
            fold_time += time.perf_counter() - t0
            derivation.add(rows)
            cur.executemany(store.sql(_INSERT_HISTORY), derivation.history)
            history += len(derivation.history)
            derivation.history = []
            after = rows[-1][0]
            if progress is not None:
                progress(after, head)
        balance_rows = [
            (t, a, s[0], s[1], s[0] - s[1], s[2], s[3], s[4]) for (t, a), s in folded.items()
        ]
        if balance_rows:
            cur.executemany(store.sql(_INSERT_BALANCE), balance_rows)
        usage_rows = derivation.usage_rows()
        if usage_rows:
            cur.executemany(store.sql(_ADD_USAGE), usage_rows)
        cur.executemany(
            store.sql(
                "UPDATE projection_tracking SET position = ?, updated_at_us = ? WHERE name = ?"
            ),
            [(after, 0, name) for name in (HISTORY_PROJECTION, USAGE_PROJECTION)],
        )
    return RebuildReport(
        total,
        len(folded),
        history,
        len(usage_rows),
        time.perf_counter() - started,
        fold_time,
    )


class ProjectionRunner:
    """Keeps credit_history and credit_usage current; never skips a position (see module doc)."""

    def __init__(
        self,
        store: EventStore,
        *,
        chunk: int = 2_000,
        poll_interval: float = 0.5,
        min_interval: float = 0.05,
        gap_warning: float = 5.0,
    ) -> None:
        self.store = store
        self.chunk = chunk
        self.poll_interval = poll_interval
        self.min_interval = min_interval
        self._urgent = asyncio.Event()
        self.gap_warning = gap_warning
        self.position = 0
        self.waiting_for: int | None = None  # the missing position while a gap lasts
        self._gap_since: float | None = None
        self._running: dict[AccountKey, tuple[int, int]] = {}
        self._wakeup: asyncio.Event | None = None
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def catch_up_once(self) -> int:
        """Project the next contiguous run of events; the number projected (0 at a gap or the end)."""
        tracked = self.store.tracking([HISTORY_PROJECTION])[HISTORY_PROJECTION]
        if tracked != self.position:
            self._running.clear()  # someone else projected meanwhile: our balances are stale
        rows = self.store.read_events(tracked, self.chunk)
        run = contiguous(rows, tracked)
        self._note_gap(rows, run, tracked)
        if not run:
            self.position = tracked
            return 0
        last = run[-1][0]
        # Everything but the writes happens outside the write transaction (WAL readers do not
        # block the group commit); the tracking row's compare-and-set below makes it safe.
        with self.store.reading() as cur:
            self._load_running(cur, {(r[1], r[2]) for r in run if r[4] in MONEY_TYPES})
        derivation = Derivation(self._running)
        derivation.add(run)
        usage_rows = derivation.usage_rows()
        with self.store.writing() as cur:
            cur.execute(
                self.store.sql(
                    "UPDATE projection_tracking SET position = ?, updated_at_us = ?"
                    " WHERE name = ? AND position = ?"
                ),
                (last, run[-1][7], HISTORY_PROJECTION, tracked),
            )
            if cur.rowcount != 1:
                self._running.clear()
                return 0  # another runner advanced first; nothing written
            cur.execute(
                self.store.sql(
                    "UPDATE projection_tracking SET position = ?, updated_at_us = ? WHERE name = ?"
                ),
                (last, run[-1][7], USAGE_PROJECTION),
            )
            if derivation.history:
                cur.executemany(self.store.sql(_INSERT_HISTORY), derivation.history)
            if usage_rows:
                cur.executemany(self.store.sql(_ADD_USAGE), usage_rows)
        self._running.update(derivation.running)
        self.position = last
        if len(self._running) > 100_000:
            self._running.clear()
        return len(run)

    def _load_running(self, cur: Any, keys: set[AccountKey]) -> None:
        sql = self.store.sql(_LAST_HISTORY)
        for key in keys - self._running.keys():
            cur.execute(sql, key)
            row = cur.fetchone()
            self._running[key] = (0, 0) if row is None else (row[0], row[0] - row[1])

    def _note_gap(self, rows: Sequence[Row], run: Sequence[Row], tracked: int) -> None:
        if len(run) < len(rows):
            missing = (run[-1][0] if run else tracked) + 1
            now = time.monotonic()
            if self.waiting_for != missing:
                self.waiting_for, self._gap_since = missing, now
            elif self._gap_since is not None and now - self._gap_since > self.gap_warning:
                log.warning("credits.projection_gap", waiting_for=missing)
                self._gap_since = now
        else:
            self.waiting_for = self._gap_since = None

    # ---------------------------------------------------------------- async loop
    async def start(self) -> None:
        """Start catching up in the background."""
        self._wakeup = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="credits-projections")

    async def stop(self) -> None:
        """Stop the background task."""
        self._stopping = True
        self._urgent.set()
        if self._wakeup is not None:
            self._wakeup.set()
        if self._task is not None:
            await self._task

    def wake(self) -> None:
        """New events were committed."""
        if self._wakeup is not None:
            self._wakeup.set()

    async def wait_for(self, position: int, *, within: float) -> bool:
        """Wait until POSITION is projected (True) or WITHIN seconds pass (False)."""
        if self.position >= position:
            return True
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((position, future))
        self._urgent.set()
        self.wake()
        try:
            await asyncio.wait_for(asyncio.shield(future), within)
        except TimeoutError:
            return False
        return True

    async def _run(self) -> None:
        assert self._wakeup is not None
        while not self._stopping:
            self._wakeup.clear()
            try:
                projected = await anyio.to_thread.run_sync(self.catch_up_once)
            except Exception as exc:
                log.warning("credits.projection_failed", error=repr(exc))
                projected = 0
            self._release_waiters()
            if projected >= self.chunk:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self.poll_interval)
            # Under load, gather a few commits per projection transaction (each one takes
            # the write lock and an fsync) - unless a reader is waiting for its own write.
            if not self._waiters and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._urgent.wait(), self.min_interval)
            self._urgent.clear()

    def _release_waiters(self) -> None:
        keep = []
        for position, future in self._waiters:
            if future.done():
                continue
            if self.position >= position:
                future.set_result(None)
            else:
                keep.append((position, future))
        self._waiters = keep
