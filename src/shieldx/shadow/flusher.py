"""Writes the in-memory counters to the database in one transaction per flush.

Flushes happen every shadow.flush_interval, before a result or a stage is judged (so a
reader in this process sees its own counts), and at shutdown. What a crash (SIGKILL, power
cut) can lose is what was counted since the last flush that committed: at most one
flush_interval of traffic per process. A flush that fails puts its counts back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Collection

import anyio.to_thread
import structlog

from shieldx.platform.db import Database
from shieldx.shadow.experiments.store import ExperimentStore
from shieldx.shadow.experiments.tallies import PendingCounts
from shieldx.shadow.metrics import ShadowMetrics
from shieldx.shadow.rollouts.store import add_stage_counts

log = structlog.get_logger("shieldx.shadow")


class CounterFlusher:
    """Moves PendingCounts into the database; one flush at a time."""

    def __init__(
        self,
        *,
        db: Database,
        pending: PendingCounts,
        experiments: ExperimentStore,
        metrics: ShadowMetrics,
        running_tests: Callable[[], Collection[str]],
    ) -> None:
        self._db = db
        self.pending = pending
        self._experiments = experiments
        self._metrics = metrics
        self._running_tests = running_tests
        self._lock = asyncio.Lock()
        self.flushes = 0

    async def flush(self) -> None:
        """Write everything counted so far; on return it is committed (or the error raised)."""
        async with self._lock:
            taken = self.pending.take()
            if not taken:
                return
            try:
                totals = await anyio.to_thread.run_sync(self._write, taken)
            except Exception:
                # Rolled back, so nothing was written. (A cancellation is not caught: the
                # write may have committed, and counting it twice would be worse.)
                self.pending.restore(taken)
                raise
            self.flushes += 1
        running = self._running_tests()
        for test_id, (control_n, candidate_n) in totals.items():
            if test_id in running:
                self._metrics.set_variant_shares(test_id, control_n, candidate_n)

    def _write(self, taken: PendingCounts) -> dict[str, tuple[int, int]]:
        with self._db.write() as conn:
            totals = self._experiments.add_counts(conn, taken.tests, taken.client_bound)
            add_stage_counts(conn, taken.stages)
        return totals

    async def run_forever(self, interval: float) -> None:
        """Flush every INTERVAL seconds until cancelled; errors are logged and retried."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("shadow.flush_failed", error_type=type(exc).__name__, error=str(exc))

    async def close(self) -> None:
        """The last flush, at shutdown (logged, not raised, when the database is gone)."""
        with contextlib.suppress(asyncio.CancelledError):
            try:
                await self.flush()
            except Exception as exc:
                log.error("shadow.final_flush_failed", error_type=type(exc).__name__)
