"""The engine: admit, check the steady state, inject, watch the halt conditions, roll back,
measure recovery, record. One asyncio task per running experiment.

Timeline of a run: safety admission (refused: nothing starts) -> steady-state hypothesis
(fails: status failed, no fault injected) -> method -> observe for the experiment's duration,
checking the halt conditions every TICK_S -> roll back every fault of the experiment and run
its rollbacks -> poll the hypothesis until it holds again (recovery time) -> record.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import anyio.to_thread
import httpx
import structlog

from shieldx.chaos.experiments.domain import Activity, Experiment
from shieldx.chaos.experiments.store import ExperimentStore
from shieldx.chaos.faults.domain import FaultSpecError
from shieldx.chaos.faults.process import ProcessNotFound
from shieldx.chaos.faults.service import FaultService
from shieldx.chaos.metrics import ChaosMetrics
from shieldx.chaos.safety.domain import Observation, SafetyPolicy, Violation
from shieldx.platform.bus import EventBus

log = structlog.get_logger("shieldx.chaos")

TICK_S = 0.1
RECOVERY_DEADLINE_S = 30.0


class NotAdmitted(Exception):
    """The safety rules refuse to start an experiment now; `reasons` say why."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


@dataclass
class Run:
    """An experiment's state while it runs and after: the status document's source."""

    id: str
    experiment: Experiment
    base_url: str
    status: str = "running"
    # How the run ends, once known; `status` turns to it only when everything is recorded.
    outcome: str | None = None
    rolled_back: bool = False
    rollback_s: float | None = None
    recovery_s: float | None = None
    error: str | None = None
    seen: Observation = field(default_factory=Observation)
    violations: list[Violation] = field(default_factory=list)
    probes: list[dict[str, Any]] = field(default_factory=list)
    abort_requested: bool = False
    task: asyncio.Task[None] | None = None

    def document(self) -> dict[str, Any]:
        """The status document (`GET /chaos/status/{id}`, `shieldx chaos run --json`)."""
        return {
            "id": self.id,
            "title": self.experiment.title,
            "type": self.experiment.fault_type,
            "status": self.status,
            "rolled_back": self.rolled_back,
            "rollback_s": self.rollback_s,
            "recovery_s": self.recovery_s,
            "error_rate": round(self.seen.error_rate, 3),
            "p99_ms": round(self.seen.p99_ms, 3),
            "requests": self.seen.total,
            "failed_requests": self.seen.failed,
            "violations": [
                {"kind": v.kind, "observed": v.observed, "limit": v.limit, "message": v.message}
                for v in self.violations
            ],
            "probes": self.probes,
            "error": self.error,
        }


def utc_hour() -> int:
    """The current hour of the day in UTC (safe_hours are UTC)."""
    return datetime.now(UTC).hour


class ChaosEngine:
    """Runs experiments against this process's faults under the safety policy."""

    def __init__(
        self,
        *,
        faults: FaultService,
        store: ExperimentStore,
        policy: SafetyPolicy,
        metrics: ChaosMetrics,
        auto_rollback: bool,
        max_ttl_s: float,
        hour: Callable[[], int] = utc_hour,
        bus: EventBus | None = None,
    ) -> None:
        self.bus = bus
        self.faults = faults
        self.max_ttl_s = max_ttl_s
        self.store = store
        self.policy = policy
        self.metrics = metrics
        self.auto_rollback = auto_rollback
        self.hour = hour
        self.runs: dict[str, Run] = {}
        self._http: httpx.AsyncClient | None = None

    async def stop(self) -> None:
        """Abort every running experiment and wait for its rollback."""
        for run in self.runs.values():
            run.abort_requested = True
        tasks = [r.task for r in self.runs.values() if r.task is not None and not r.task.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=10)
        if self._http is not None:
            await self._http.aclose()

    def running(self) -> int:
        """How many experiments are running."""
        return sum(1 for r in self.runs.values() if r.status == "running")

    async def start(self, *, experiment: Experiment, definition: Any, base_url: str) -> Run:
        """Admit and start EXPERIMENT in the background; raises NotAdmitted."""
        reasons = self.policy.refusals(hour=self.hour(), running=self.running())
        if reasons:
            raise NotAdmitted(reasons)
        run = Run(id=f"exp_{secrets.token_hex(8)}", experiment=experiment, base_url=base_url)
        await anyio.to_thread.run_sync(
            lambda: self.store.insert(
                experiment_id=run.id,
                title=experiment.title,
                fault_type=experiment.fault_type,
                definition=definition,
                status="running",
            )
        )
        self.runs[run.id] = run
        run.task = asyncio.get_running_loop().create_task(self._run(run))
        return run

    def abort(self, experiment_id: str) -> Run | None:
        """Ask a running experiment to stop now (it rolls back as usual)."""
        run = self.runs.get(experiment_id)
        if run is not None:
            run.abort_requested = True
        return run

    async def _run(self, run: Run) -> None:
        exp = run.experiment
        log.info("chaos.experiment_started", id=run.id, type=exp.fault_type, title=exp.title)
        try:
            if not await self._hypothesis_holds(run, "before"):
                run.outcome, run.error = "failed", "the steady state did not hold before the method"
                return
            policy = self.policy.tightened(
                max_error_rate=exp.max_error_rate, max_p99_ms=exp.max_p99_ms
            )
            started = time.monotonic()
            traffic = (
                asyncio.get_running_loop().create_task(self._traffic(run))
                if exp.traffic_rate > 0
                else None
            )
            try:
                for activity in exp.method:
                    await self._activity(run, activity)
                    if run.abort_requested:
                        break
                await self._observe(run, policy, started)
            finally:
                if traffic is not None:
                    traffic.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await traffic
                run.seen = self.faults.http.observe(started)
                await self._roll_back(run)
            recovered = await self._recover(run)
            if run.outcome is None:
                run.outcome = "completed" if recovered else "failed"
            if not recovered:
                run.error = f"the steady state did not return within {RECOVERY_DEADLINE_S:g} s"
        except Exception as exc:  # any failure ends the run as failed, never leaves faults on
            log.exception("chaos.experiment_error", id=run.id)
            run.outcome, run.error = "failed", f"{type(exc).__name__}: {exc}"
            await self._roll_back(run)
        finally:
            await self._record(run, run.outcome or "failed")
            run.status = run.outcome or "failed"

    async def _observe(self, run: Run, policy: SafetyPolicy, started: float) -> None:
        """Watch the halt conditions until the duration ends, an abort, or a halt."""
        deadline = started + run.experiment.duration_s
        while time.monotonic() < deadline and not run.abort_requested:
            await asyncio.sleep(TICK_S)
            found = policy.violations(self.faults.http.observe(started))
            new = [v for v in found if v.kind not in {seen.kind for seen in run.violations}]
            if new:
                run.violations.extend(new)
                for violation in new:
                    self.metrics.violations.labels(violation.kind).inc()
                    log.warning("chaos.safety_violation", id=run.id, message=violation.message)
                    if self.bus is not None:
                        self.bus.publish(
                            "chaos.safety_violation",
                            {
                                "experiment_id": run.id,
                                "violation": violation.kind,
                                "message": violation.message,
                            },
                        )
                await anyio.to_thread.run_sync(
                    partial(self.store.add_violations, experiment_id=run.id, found=new)
                )
                if self.auto_rollback:
                    run.outcome = "halted"
                    return

    async def _roll_back(self, run: Run) -> None:
        """Remove every fault of RUN and run its rollbacks; time it."""
        began = time.perf_counter()
        self.faults.rollback(owner=run.id)
        for activity in run.experiment.rollbacks:
            try:
                await self._activity(run, activity)
            except Exception as exc:  # a failing rollback step must not stop the others
                log.warning("chaos.rollback_step_failed", id=run.id, error=str(exc))
        run.rollback_s = round(time.perf_counter() - began, 6)
        run.rolled_back = not any(f.owner == run.id for f in self.faults.active())
        self.metrics.rollback.observe(run.rollback_s)

    async def _recover(self, run: Run) -> bool:
        """Poll the hypothesis until it holds; recovery_s is how long that took."""
        began = time.monotonic()
        while time.monotonic() - began < RECOVERY_DEADLINE_S:
            if await self._hypothesis_holds(run, "after"):
                run.recovery_s = round(time.monotonic() - began, 6)
                self.metrics.recovery.observe(run.recovery_s)
                return True
            await asyncio.sleep(0.2)
        return False

    async def _hypothesis_holds(self, run: Run, phase: str) -> bool:
        for probe in run.experiment.hypothesis:
            value = await self._activity(run, probe)
            ok = probe.tolerance is None or probe.tolerance.accepts(value)
            run.probes.append({"phase": phase, "name": probe.name, "value": value, "ok": ok})
            if not ok:
                return False
        return True

    async def _activity(self, run: Run, activity: Activity) -> Any:
        """Run one action or probe; its value (a probe's result, an action's fault id)."""
        if activity.pause_before_s:
            await asyncio.sleep(activity.pause_before_s)
        try:
            if activity.provider == "http":
                response = await self._client().request(
                    activity.method, activity.url, timeout=activity.timeout_s
                )
                return response.status_code
            return await self._python(run, activity)
        finally:
            if activity.pause_after_s:
                await asyncio.sleep(activity.pause_after_s)

    async def _python(self, run: Run, activity: Activity) -> Any:
        func = activity.func
        if func == "inject_fault":
            assert activity.fault is not None
            try:
                return self.faults.apply(activity.fault, owner=run.id).id
            except (FaultSpecError, ProcessNotFound) as exc:
                raise RuntimeError(f"{activity.name}: {exc}") from exc
        if func == "remove_faults":
            return self.faults.rollback(owner=run.id)
        if func == "service_ready":
            try:
                response = await self._client().get(f"{run.base_url}/ready", timeout=5)
            except httpx.HTTPError:
                return False
            return response.status_code == 200
        if func == "active_fault_count":
            return len(self.faults.active())
        seen = self.faults.http.observe(time.monotonic() - 10)
        return round(seen.error_rate if func == "error_rate" else seen.p99_ms, 3)

    async def _traffic(self, run: Run) -> None:
        """Synthetic requests to the service itself, so the halt checks have traffic."""
        url = run.base_url + run.experiment.traffic_path
        interval = 1 / run.experiment.traffic_rate
        client = self._client()

        async def one() -> None:
            with contextlib.suppress(httpx.HTTPError):
                await client.get(url, timeout=5)

        pending: set[asyncio.Task[None]] = set()
        try:
            while True:
                task = asyncio.get_running_loop().create_task(one())
                pending.add(task)
                task.add_done_callback(pending.discard)
                await asyncio.sleep(interval)
        finally:
            for task in pending:
                task.cancel()

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient()
        return self._http

    async def _record(self, run: Run, status: str) -> None:
        self.metrics.experiments.labels(run.experiment.fault_type, status).inc()
        log.info(
            "chaos.experiment_ended",
            id=run.id,
            status=status,
            rollback_s=run.rollback_s,
            recovery_s=run.recovery_s,
        )
        await anyio.to_thread.run_sync(
            lambda: self.store.finish(
                experiment_id=run.id,
                status=status,
                rolled_back=run.rolled_back,
                rollback_s=run.rollback_s,
                recovery_s=run.recovery_s,
                error=run.error,
                seen=run.seen,
            )
        )


def stored_document(row: dict[str, Any]) -> dict[str, Any]:
    """The status document of an experiment read back from the database."""
    metric = row.get("metrics") or {}
    return {
        "id": row["id"],
        "title": row["title"],
        "type": row["fault_type"],
        "status": row["status"],
        "rolled_back": bool(row["rolled_back"]),
        "rollback_s": row["rollback_s"],
        "recovery_s": row["recovery_s"],
        "error_rate": round(float(metric.get("error_rate", 0.0)), 3),
        "p99_ms": round(float(metric.get("latency_p99_ms", 0.0)), 3),
        "requests": int(metric.get("total_requests", 0)),
        "failed_requests": int(metric.get("failed_requests", 0)),
        "violations": [
            {
                "kind": v["kind"],
                "observed": v["observed"],
                "limit": v["limit_value"],
                "message": v["message"],
            }
            for v in row.get("violations", [])
        ],
        "probes": [],
        "error": row["error"],
    }


@dataclass(frozen=True)
class Scheduled:
    """An experiment of chaos.schedule, parsed at start-up: its file, document and model."""

    path: str
    definition: Any
    experiment: Experiment


async def run_schedule(
    engine: ChaosEngine, scheduled: list[Scheduled], interval_s: float, base_url: str
) -> None:
    """Try to start the next scheduled experiment every INTERVAL_S until cancelled.

    The safety rules decide as for an API start: a refusal (outside safe hours, too many
    running, chaos disabled) is logged and the same experiment is tried at the next tick, so
    the list runs in its order (round robin) and a refusal never stacks runs.
    """
    turn = 0
    while True:
        await asyncio.sleep(interval_s)
        item = scheduled[turn % len(scheduled)]
        try:
            run = await engine.start(
                experiment=item.experiment, definition=item.definition, base_url=base_url
            )
        except NotAdmitted as exc:
            log.debug("chaos.schedule_waits", experiment=item.path, reasons=exc.reasons)
            continue
        except Exception:  # a failed start is logged and passed over; the schedule goes on
            log.exception("chaos.schedule_failed", experiment=item.path)
            turn += 1
            continue
        turn += 1
        log.info("chaos.scheduled", experiment=item.path, experiment_id=run.id)
