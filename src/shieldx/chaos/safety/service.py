"""The guard for faults injected outside an experiment (POST /chaos/faults, `chaos run`):
the same halt conditions, checked while any such fault is live."""

from __future__ import annotations

import asyncio
import contextlib
import time

import anyio.to_thread
import structlog

from shieldx.chaos.experiments.store import ExperimentStore
from shieldx.chaos.faults.service import FaultService
from shieldx.chaos.metrics import ChaosMetrics
from shieldx.chaos.safety.domain import SafetyPolicy, Violation
from shieldx.platform.bus import EventBus

log = structlog.get_logger("shieldx.chaos")
TICK_S = 0.1


class FaultGuard:
    """Every TICK_S: if loose faults are live and a limit is breached, roll them all back."""

    def __init__(
        self,
        *,
        faults: FaultService,
        store: ExperimentStore,
        policy: SafetyPolicy,
        metrics: ChaosMetrics,
        auto_rollback: bool,
        bus: EventBus | None = None,
    ) -> None:
        self.bus = bus
        self.faults = faults
        self.store = store
        self.policy = policy
        self.metrics = metrics
        self.auto_rollback = auto_rollback
        self.last_violations: list[Violation] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start watching."""
        self._task = asyncio.get_running_loop().create_task(self._watch())

    async def stop(self) -> None:
        """Stop watching."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                await self.check()
            except Exception:  # the guard must outlive one failed check
                log.exception("chaos.guard_failed")

    async def check(self) -> list[Violation]:
        """One round: the violations found (their faults rolled back if auto_rollback)."""
        loose = [f for f in self.faults.active() if f.owner is None]
        if not loose:
            return []
        since = min(f.started for f in loose)
        found = self.policy.violations(self.faults.http.observe(since))
        if not found:
            return []
        began = time.perf_counter()
        if self.auto_rollback:
            for fault in loose:
                self.faults.remove(fault.id)
            self.metrics.rollback.observe(time.perf_counter() - began)
        for violation in found:
            self.metrics.violations.labels(violation.kind).inc()
            log.warning("chaos.safety_violation", message=violation.message)
            if self.bus is not None:
                self.bus.publish(
                    "chaos.safety_violation",
                    {"violation": violation.kind, "message": violation.message},
                )
        self.last_violations = found
        await anyio.to_thread.run_sync(
            lambda: self.store.add_violations(experiment_id=None, found=found)
        )
        return found
