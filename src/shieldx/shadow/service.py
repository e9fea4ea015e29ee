"""The shadow service's application layer: wires the parts together and owns the background work.

Blocking work (SQL, compiling rule sets) runs in worker threads; rule evaluations whose
static cost bound is above shadow.inline_cost (expensive decisions, mirror batches) run in
worker processes (rules/evaluation_pool.py). The hot path (`decide` on an affordable rule set) runs
on the event loop with no I/O. Background tasks: the counter
flusher (every shadow.flush_interval), the routing refresher (every shadow.refresh_interval:
picks up changes made by other processes) and the deployment controller (every
deployment.health_check_interval).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import anyio.to_thread
import structlog

from shieldx.config import Settings
from shieldx.platform.db import Database
from shieldx.platform.errors import Problem
from shieldx.shadow.experiments.results import experiment_doc
from shieldx.shadow.experiments.service import ExperimentService
from shieldx.shadow.experiments.store import ExperimentStore
from shieldx.shadow.experiments.tallies import PendingCounts
from shieldx.shadow.flags.service import FlagService
from shieldx.shadow.flags.store import FlagStore
from shieldx.shadow.flusher import CounterFlusher
from shieldx.shadow.metrics import ShadowMetrics
from shieldx.shadow.rollouts.controller import DeploymentController
from shieldx.shadow.rollouts.domain import Status
from shieldx.shadow.rollouts.gates import InstanceReport
from shieldx.shadow.rollouts.gateways import GatewayStore, Heartbeat
from shieldx.shadow.rollouts.report import deployment_report, deployment_summary
from shieldx.shadow.rollouts.service import FLEET_LIMITS, DeploymentService, DeployRequest
from shieldx.shadow.rollouts.store import DeploymentStore
from shieldx.shadow.rules.catalog import RuleSetCatalog
from shieldx.shadow.rules.enforcement import Enforcer, NoRoute
from shieldx.shadow.rules.evaluation_pool import (
    EvaluationPool,
    EvaluationUnavailable,
    evaluate_records,
)
from shieldx.shadow.rules.records import Label, RequestRecord, TrafficRecord
from shieldx.shadow.rules.routing import load_routing, tenant_rulesets, traffic_cost
from shieldx.shadow.rules.service import RuleSetService
from shieldx.shadow.rules.store import RuleSetStore
from shieldx.shadow.timeutil import Clock, iso, system_clock
from shieldx.shadow.versions import fetch_versions, version_probe

log = structlog.get_logger("shieldx.shadow")
CanSee = Callable[[str], bool]


class ShadowService:
    """Rule sets, A/B tests, deployments, the decision path and flags, for one process."""

    def __init__(
        self,
        *,
        db: Database,
        settings: Settings,
        metrics: ShadowMetrics,
        clock: Clock = system_clock,
    ) -> None:
        shadow = settings.shadow
        self.db, self.settings, self.metrics, self.clock = db, settings, metrics, clock
        self.pending = PendingCounts(shadow.blast_radius_exact_clients)
        self.catalog = RuleSetCatalog(
            RuleSetStore(db), capacity=shadow.ruleset_cache_size, max_cost=shadow.max_ruleset_cost
        )
        self.pool = EvaluationPool(
            workers=shadow.evaluation_workers, timeout=shadow.evaluation_timeout.total_seconds()
        )
        self.inline_cost = shadow.inline_cost
        self.rulesets = RuleSetService(
            catalog=self.catalog, clock=clock, pool=self.pool, inline_cost=shadow.inline_cost
        )
        self.experiment_store = ExperimentStore(db)
        self.deployment_store = DeploymentStore(db)
        self.gateways = GatewayStore(db)
        self.enforcer = Enforcer(pending=self.pending, metrics=metrics)
        self.experiments = ExperimentService(
            store=self.experiment_store,
            catalog=self.catalog,
            settings=shadow,
            metrics=metrics,
            clock=clock,
        )
        self.deployments = DeploymentService(
            store=self.deployment_store,
            gateways=self.gateways,
            experiments=self.experiment_store,
            catalog=self.catalog,
            metrics=metrics,
            clock=clock,
            breaker=self.enforcer.breakers.reason,
        )
        self._probe = version_probe(db)
        self.flags = FlagService(
            db=db,
            store=FlagStore(db),
            clock=clock,
            probe=version_probe(db),
            max_staleness=shadow.flag_max_staleness.total_seconds(),
            max_cost=shadow.inline_cost,
        )
        self.flusher = CounterFlusher(
            db=db,
            pending=self.pending,
            experiments=self.experiment_store,
            metrics=metrics,
            running_tests=self._running_test_ids,
        )
        self.controller = DeploymentController(
            deployments=self.deployments,
            flusher=self.flusher,
            reload_routing=self.reload_routing,
            interval=settings.deployment.health_check_interval.total_seconds(),
        )
        self._tasks: list[asyncio.Task[None]] = []

    def _running_test_ids(self) -> set[str]:
        return {e.id for tests in self.enforcer.snapshot.experiments.values() for e in tests}

    # Lifecycle -------------------------------------------------------------------------

    async def start(self, *, background: bool = True) -> None:
        """Load flags and routing; start the flusher, refresher and controller tasks."""
        await anyio.to_thread.run_sync(self.flags.load)
        await self.reload_routing()
        await anyio.to_thread.run_sync(self.deployments.refresh_status_metrics)
        if background:
            loop = asyncio.get_running_loop()
            shadow = self.settings.shadow
            self._tasks = [
                loop.create_task(self.flusher.run_forever(shadow.flush_interval.total_seconds())),
                loop.create_task(self._refresh_forever(shadow.refresh_interval.total_seconds())),
                loop.create_task(self.controller.run_forever()),
            ]

    async def stop(self) -> None:
        """Stop the background tasks and write the last counts."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self.flusher.close()
        await anyio.to_thread.run_sync(self.pool.close)
        self.flags.close()
        if self._probe is not None:
            self._probe.close()

    async def reload_routing(self) -> None:
        """Load the routing snapshot in a worker thread and install it."""
        snapshot = await anyio.to_thread.run_sync(
            load_routing, self.db, self.catalog, self.experiment_store
        )
        self.enforcer.install(snapshot)
        heavy = [
            ruleset
            for tenant, cost in snapshot.costs.items()
            if cost > self.inline_cost
            for ruleset in tenant_rulesets(snapshot, tenant)
        ]
        if heavy:
            # Start the workers and compile there now, not on the first request's deadline.
            if not self.pool.started:
                await anyio.to_thread.run_sync(self.pool.start)
            self.pool.warm(heavy)

    async def refresh_routing(self) -> None:
        """Reload the routing snapshot if another process changed it (the cheap check first)."""
        versions = self._probe.read() if self._probe is not None else None
        if versions is None:
            versions = await anyio.to_thread.run_sync(fetch_versions, self.db)
        if versions.routing != self.enforcer.snapshot.version:
            await self.reload_routing()

    async def _refresh_forever(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.refresh_routing()
            except Exception as exc:
                log.error("shadow.refresh_failed", error_type=type(exc).__name__, error=str(exc))

    # Traffic and decisions -----------------------------------------------------------------

    async def ingest(self, tenant: str, items: Sequence[TrafficRecord]) -> dict[str, Any]:
        """The mirror feed: count a batch for every running test of the tenant.

        413 when the batch's cost bound (records x the cost of the rule sets its running
        tests evaluate) is over shadow.max_batch_cost.
        """
        experiments = self.enforcer.snapshot.experiments.get(tenant, ())
        per_record = traffic_cost(experiments)
        budget = self.settings.shadow.max_batch_cost
        if per_record * len(items) > budget:
            fits = budget // per_record
            raise Problem(
                413,
                f"this batch's estimated cost is {per_record * len(items)} ({len(items)} records "
                f"x {per_record} for the rule sets of {len(experiments)} running tests), over "
                f"the budget of {budget} (setting shadow.max_batch_cost); send at most {fits} "
                "records per batch",
                type="batch-over-budget",
                cost=per_record * len(items),
                budget=budget,
                max_records=fits,
            )
        if experiments and items:
            bound = self.pending.client_bound
            if per_record * len(items) <= self.inline_cost:
                tallies, timings = evaluate_records(experiments, items, bound)
                self.enforcer.count_traffic([tallies], timings)
            else:
                parts, timings = await self.pool.traffic(experiments, items, bound, per_record)
                self.enforcer.count_traffic(parts, timings)
        labelled = sum(1 for item in items if item.label is not None)
        return {"accepted": len(items), "labelled": labelled, "tests": [e.id for e in experiments]}

    def decide(
        self, tenant: str, record: RequestRecord, *, label: Label | None, gateway: str | None
    ) -> dict[str, Any]:
        """The enforcement point, evaluated here whatever the cost; 404 when nothing is deployed.

        For in-process callers; the HTTP route uses decide_request, which keeps costly
        evaluations off the event loop.
        """
        try:
            return self.enforcer.decide(tenant, record, label=label, gateway=gateway)
        except NoRoute:
            raise _nothing_deployed(tenant) from None

    async def decide_request(
        self, tenant: str, record: RequestRecord, *, label: Label | None, gateway: str | None
    ) -> dict[str, Any]:
        """/shadow/decide: like decide, with costly evaluations in the evaluation pool.

        An affordable decision (cost bound at most shadow.inline_cost) runs right here; a
        costlier one in a worker process, 503 when that misses shadow.evaluation_timeout.
        """
        snapshot = self.enforcer.snapshot
        try:
            if snapshot.costs.get(tenant, 0) <= self.inline_cost:
                return self.enforcer.decide(
                    tenant, record, label=label, gateway=gateway, snapshot=snapshot
                )
            if tenant not in snapshot.routes:
                raise NoRoute(tenant)
            known = await self.pool.decide(tenant_rulesets(snapshot, tenant), record)
            return self.enforcer.decide(
                tenant, record, label=label, gateway=gateway, snapshot=snapshot, known=known
            )
        except NoRoute:
            raise _nothing_deployed(tenant) from None
        except EvaluationUnavailable as exc:
            raise Problem(
                503, str(exc), type="evaluation-unavailable", headers={"Retry-After": "1"}
            ) from None

    # A/B tests --------------------------------------------------------------------------------

    async def create_test(self, **fields: Any) -> dict[str, Any]:
        """Start an A/B test; it sees traffic from the next request on."""
        experiment = await anyio.to_thread.run_sync(lambda: self.experiments.create(**fields))
        await self.reload_routing()
        return experiment_doc(experiment)

    async def tests(self, tenant: str, status: str | None) -> list[dict[str, Any]]:
        """A tenant's tests."""
        found = await anyio.to_thread.run_sync(self.experiment_store.for_tenant, tenant, status)
        return [experiment_doc(e) for e in found]

    async def test(self, test_id: str, can_see: CanSee) -> dict[str, Any]:
        """One test's definition and state."""
        experiment = await anyio.to_thread.run_sync(
            lambda: self.experiments.get(test_id, can_see=can_see)
        )
        return experiment_doc(experiment)

    async def results(self, test_id: str, can_see: CanSee) -> dict[str, Any]:
        """GET /shadow/results/{id}, including this process's latest counts."""
        experiment = await anyio.to_thread.run_sync(
            lambda: self.experiments.get(test_id, can_see=can_see)
        )
        await self.flusher.flush()
        return await anyio.to_thread.run_sync(self.experiments.report, experiment)

    async def end_test(
        self, test_id: str, can_see: CanSee, *, winner: str | None, reason: str, stop: bool
    ) -> dict[str, Any]:
        """Decide (winner named or recommended) or stop a running test."""
        experiment = await anyio.to_thread.run_sync(
            lambda: self.experiments.get(test_id, can_see=can_see)
        )
        await self.flusher.flush()
        if stop:
            ended = await anyio.to_thread.run_sync(
                lambda: self.experiments.stop(experiment, reason=reason)
            )
        else:
            ended = await anyio.to_thread.run_sync(
                lambda: self.experiments.decide(experiment, winner=winner, reason=reason)
            )
        await self.reload_routing()
        return experiment_doc(ended)

    # Deployments --------------------------------------------------------------------------------

    async def deploy(self, request: DeployRequest) -> dict[str, Any]:
        """Start a deployment; the split applies from the next request on."""
        deployment = await anyio.to_thread.run_sync(self.deployments.deploy, request)
        await self.reload_routing()
        return deployment_summary(deployment)

    async def deployment(self, deployment_id: str, can_see: CanSee) -> dict[str, Any]:
        """GET /shadow/deployments/{id} with the live judgement of the current stage."""
        await self.flusher.flush()

        def read() -> dict[str, Any]:
            d = self.deployments.get(deployment_id, can_see=can_see)
            current = self.deployments.judge(d) if d.status is Status.RUNNING else None
            return deployment_report(d, self.deployment_store, current)

        return await anyio.to_thread.run_sync(read)

    async def deployment_list(self, tenant: str) -> list[dict[str, Any]]:
        """A tenant's deployments, newest first."""
        found = await anyio.to_thread.run_sync(self.deployment_store.for_tenant, tenant)
        return [deployment_summary(d) for d in found]

    async def operate(
        self, deployment_id: str, action: str, can_see: CanSee, *, by: str, full: bool = False
    ) -> dict[str, Any]:
        """promote, abort, pause or resume by hand."""
        await self.flusher.flush()

        def run() -> dict[str, Any]:
            d = self.deployments.get(deployment_id, can_see=can_see)
            return deployment_summary(self.deployments.operate(d, action, by=by, full=full))

        doc = await anyio.to_thread.run_sync(run)
        await self.reload_routing()
        return doc

    # Gateways -------------------------------------------------------------------------------------

    async def register_gateway(self, tenant: str, gateway_id: str, description: str) -> bool:
        """Register a gateway for rolling deployments; False when it already was."""
        return await anyio.to_thread.run_sync(
            lambda: self.gateways.register(tenant, gateway_id, description, self.clock())
        )

    async def gateway_list(self, tenant: str) -> list[dict[str, Any]]:
        """A tenant's gateways, in rolling order."""
        found = await anyio.to_thread.run_sync(self.gateways.for_tenant, tenant)
        route = self.enforcer.snapshot.routes.get(tenant)
        moved = route.gateways if route is not None and route.gateways is not None else frozenset()
        beats = await anyio.to_thread.run_sync(self.gateways.heartbeats, tenant)
        now = self.clock()
        out = []
        for g in found:
            beat = beats.get(g.gateway_id)
            out.append(
                {
                    "gateway_id": g.gateway_id,
                    "description": g.description,
                    "registered_at": iso(g.registered_at),
                    "on_candidate": g.gateway_id in moved,
                    "last_heartbeat_at": None if beat is None else iso(beat.at),
                    "healthy": None if beat is None else _healthy(beat, now),
                    "error_rate": None if beat is None else beat.error_rate,
                    "latency_p95_ms": None if beat is None else beat.latency_p95_ms,
                }
            )
        return out

    async def heartbeat(self, beat: Heartbeat) -> dict[str, Any]:
        """Record a gateway's heartbeat; 404 when it is not registered."""
        if not await anyio.to_thread.run_sync(self.gateways.heartbeat, beat):
            raise Problem(
                404,
                f"no gateway {beat.gateway_id!r}: register it with POST /shadow/gateways",
                type="not-found",
            )
        return {
            "gateway_id": beat.gateway_id,
            "tenant": beat.tenant,
            "last_heartbeat_at": iso(beat.at),
            "requests": beat.requests,
            "error_rate": beat.error_rate,
            "latency_p95_ms": beat.latency_p95_ms,
            "healthy": _healthy(beat, self.clock()),
        }

    async def environments(self, tenant: str) -> list[dict[str, Any]]:
        """The tenant's environments (deployment_environments)."""
        return await anyio.to_thread.run_sync(self.deployment_store.environments, tenant)

    async def remove_gateway(self, tenant: str, gateway_id: str) -> None:
        """Deregister a gateway."""
        if not await anyio.to_thread.run_sync(self.gateways.remove, tenant, gateway_id):
            raise Problem(404, f"no gateway {gateway_id!r}", type="not-found")

    # Flags ------------------------------------------------------------------------------------------

    async def evaluate_flag(
        self, tenant: str, key: str, context: Mapping[str, object]
    ) -> dict[str, Any]:
        """Resolve a flag, after making sure a kill switch set anywhere is seen."""
        await self.flags.ensure_fresh()
        return self.flags.evaluate(tenant, key, context)


def _healthy(beat: Heartbeat, now: datetime) -> bool:
    age = (now - beat.at).total_seconds()
    return FLEET_LIMITS.healthy(InstanceReport(beat.gateway_id, age, beat.error_rate))


def _nothing_deployed(tenant: str) -> Problem:
    return Problem(
        404,
        f"no rule set is deployed for tenant {tenant!r}; deploy one with "
        "POST /shadow/deploy (strategy 'immediate' for the first)",
        type="nothing-deployed",
    )
