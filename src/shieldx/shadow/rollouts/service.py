"""Deployments, the application layer: start one, let the controller move it, operate it by hand.

Every move is one optimistic transition (see rollouts/store.py): the deployment row, the
stage history, the tenant's traffic rule and the rollback record change together or not
at all. Blocking; the API and the controller run it in worker threads.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from shieldx.platform.errors import Problem
from shieldx.shadow.experiments.service import resolve_ref
from shieldx.shadow.experiments.store import ExperimentStore
from shieldx.shadow.experiments.tallies import StageTally
from shieldx.shadow.metrics import ShadowMetrics
from shieldx.shadow.rollouts.domain import (
    Move,
    Policy,
    Stage,
    Status,
    Step,
    Strategy,
    Switch,
    next_step,
    plan_stages,
)
from shieldx.shadow.rollouts.gates import (
    FleetLimits,
    GateCheck,
    InstanceReport,
    StageCounts,
    judge_fleet,
)
from shieldx.shadow.rollouts.gateways import GatewayStore
from shieldx.shadow.rollouts.store import (
    Deployment,
    DeploymentConflict,
    DeploymentStore,
    Rollback,
    Transition,
)
from shieldx.shadow.rollouts.traffic_rules import RulesetRef, TrafficRule
from shieldx.shadow.rules.catalog import RuleSetCatalog
from shieldx.shadow.timeutil import Clock


@dataclass(frozen=True, slots=True)
class DeployRequest:
    """A validated POST /shadow/deploy, defaults applied."""

    tenant: str
    created_by: str
    strategy: Strategy
    stages: tuple[float, ...]
    stage_duration_s: float
    post_promotion_window_s: float
    policy: Policy
    sticky_key: str
    test_id: str | None = None
    ruleset: str | None = None
    switch: Switch = Switch.GRADUAL


# The seed's instance gates (see gates.py); fixed, as the seed gives them.
FLEET_LIMITS = FleetLimits()


def stage_counts(tally: StageTally) -> StageCounts:
    """The gates module's view of a stage tally."""
    return StageCounts(**tally.as_dict())


def check_doc(check: GateCheck) -> dict[str, object]:
    """One gate's figures, as stored and shown."""
    return {
        "gate": check.gate,
        "verdict": check.verdict.value,
        "observed": check.observed,
        "limit": check.limit,
        "probability_over_limit": check.probability_over_limit,
        "detail": check.detail,
    }


_PAST = {"promote": "promoted", "abort": "aborted", "pause": "paused", "resume": "resumed"}


def _ref_text(ref: RulesetRef | None) -> str:
    return "nothing" if ref is None else f"{ref[0]}@{ref[1]}"


class DeploymentService:
    """Starts, advances and operates deployments."""

    def __init__(
        self,
        *,
        store: DeploymentStore,
        gateways: GatewayStore,
        experiments: ExperimentStore,
        catalog: RuleSetCatalog,
        metrics: ShadowMetrics,
        clock: Clock,
        breaker: Callable[[str], str | None] = lambda _deployment_id: None,
    ) -> None:
        self.breaker = breaker
        self.store = store
        self.gateways = gateways
        self.experiments = experiments
        self.catalog = catalog
        self.metrics = metrics
        self.clock = clock

    def deploy(self, request: DeployRequest) -> Deployment:
        """Start a deployment (an immediate one is complete on return)."""
        tenant, now = request.tenant, self.clock()
        target = self._target(request)
        current = self.store.traffic_rule(tenant)
        previous = current.stable if current is not None else None
        if previous == target:
            raise Problem(
                409,
                f"{_ref_text(target)} is already enforced for {tenant!r}",
                type="already-deployed",
            )
        gateways: list[str] = []
        if request.strategy is Strategy.ROLLING:
            gateways = [g.gateway_id for g in self.gateways.for_tenant(tenant)]
            if not gateways:
                raise Problem(
                    409,
                    "a rolling deployment moves registered gateways one by one, and tenant "
                    f"{tenant!r} has none: register them with POST /shadow/gateways",
                    type="no-gateways",
                )
        plan = plan_stages(
            request.strategy,
            percentages=request.stages,
            stage_duration_s=request.stage_duration_s,
            post_promotion_window_s=request.post_promotion_window_s,
            gateways=gateways,
            switch=request.switch,
        )
        immediate = request.strategy is Strategy.IMMEDIATE
        deployment = Deployment(
            id="dep_" + secrets.token_hex(8),
            tenant=tenant,
            strategy=request.strategy,
            status=Status.COMPLETED if immediate else Status.RUNNING,
            target=target,
            previous=previous,
            plan=plan,
            policy=request.policy,
            sticky_key=request.sticky_key,
            stage_index=0,
            stage_seq=1,
            stage_started_at=now,
            revision=1,
            created_at=now,
            updated_at=now,
            created_by=request.created_by,
            test_id=request.test_id,
            reason="deployed immediately" if immediate else None,
            finished_at=now if immediate else None,
        )
        rule = (
            self._rule(deployment, plan[0], 1)
            if not immediate
            else self._settled(deployment, target)
        )
        try:
            self.store.create(deployment, rule, completed=immediate)
        except DeploymentConflict as exc:
            raise Problem(
                409,
                f"tenant {tenant!r} already has deployment {exc.args[0]} in progress; "
                "promote, abort or wait for it first",
                type="deployment-in-progress",
            ) from None
        if immediate:
            self.metrics.deployment_duration.labels(request.strategy.value, "completed").observe(0)
        self.refresh_status_metrics()
        return deployment

    def _target(self, request: DeployRequest) -> RulesetRef:
        if request.ruleset is not None:
            return resolve_ref(self.catalog, request.tenant, request.ruleset, "ruleset")
        assert request.test_id is not None
        experiment = self.experiments.get(request.test_id)
        if experiment is None or experiment.tenant != request.tenant:
            raise Problem(422, f"test_id: no A/B test {request.test_id!r}", type="unknown-test")
        if experiment.status != "decided" or experiment.winner != "candidate":
            state = (
                f"{experiment.status}, winner {experiment.winner}"
                if experiment.winner
                else experiment.status
            )
            raise Problem(
                409,
                f"test {experiment.id!r} is {state}: only a test decided for its candidate "
                "can be deployed (or name the rule set)",
                type="test-not-won",
            )
        return experiment.candidate

    def _rule(self, d: Deployment, stage: Stage, seq: int | None) -> TrafficRule:
        gateways = stage.gateways if d.strategy is Strategy.ROLLING else None
        return TrafficRule(
            tenant=d.tenant,
            stable=d.previous,
            sticky_key=d.sticky_key,
            candidate=d.target,
            candidate_percentage=stage.percentage,
            candidate_gateways=gateways,
            deployment_id=d.id,
            stage_seq=seq,
            phase=stage.phase,
        )

    def _settled(self, d: Deployment, stable: RulesetRef | None) -> TrafficRule:
        return TrafficRule(tenant=d.tenant, stable=stable, sticky_key=d.sticky_key)

    def judge(self, d: Deployment) -> Step:
        """The controller's view of the current stage right now (from persisted counts)."""
        counts = stage_counts(self.store.stage_counts(d.id, d.stage_seq))
        now = self.clock()
        elapsed = (now - d.stage_started_at).total_seconds()
        fleet = judge_fleet(self.instances(d.tenant, now), FLEET_LIMITS)
        return next_step(
            d.stage, last=d.last, policy=d.policy, counts=counts, elapsed_s=elapsed, fleet=fleet
        )

    def instances(self, tenant: str, now: datetime) -> list[InstanceReport]:
        """The registered gateways as the instance gates see them; none until one reported."""
        beats = self.gateways.heartbeats(tenant)
        if not beats:
            return []
        reports = []
        for gateway in self.gateways.for_tenant(tenant):
            beat = beats.get(gateway.gateway_id)
            if beat is None:
                reports.append(InstanceReport(gateway.gateway_id, None))
            else:
                age = max(0.0, (now - beat.at).total_seconds())
                reports.append(
                    InstanceReport(gateway.gateway_id, age, beat.error_rate, beat.latency_p95_ms)
                )
        return reports

    def tick(self) -> int:
        """Judge every running deployment once and apply the moves; return how many moved."""
        moved = 0
        for deployment in self.store.running():
            step = self.judge(deployment)
            trigger = "automatic"
            tripped = self.breaker(deployment.id)
            if tripped is not None:
                step, trigger = Step(Move.ROLLBACK, step.judgement, tripped), "circuit_breaker"
            if step.move is not Move.WAIT and self._apply(deployment, step.move, step, trigger):
                moved += 1
        if moved:
            self.refresh_status_metrics()
        return moved

    def operate(self, d: Deployment, action: str, *, by: str, full: bool = False) -> Deployment:
        """promote | abort | pause | resume, by an operator."""
        allowed = {
            "promote": (Status.RUNNING, Status.PAUSED),
            "abort": (Status.RUNNING, Status.PAUSED),
            "pause": (Status.RUNNING,),
            "resume": (Status.PAUSED,),
        }[action]
        if d.status not in allowed:
            raise Problem(
                409,
                f"cannot {action} deployment {d.id!r}: it is {d.status.value}",
                type="deployment-state",
            )
        step = self.judge(d)
        if action == "promote":
            move = Move.COMPLETE if full or d.last else Move.ADVANCE
        else:
            move = {"abort": Move.ROLLBACK, "pause": Move.PAUSE, "resume": Move.RESUME}[action]
        manual = Step(move, step.judgement, f"{_PAST[action]} by key {by}")
        if not self._apply(d, move, manual, "manual", verdict=_PAST[action]):
            raise Problem(
                409, f"deployment {d.id!r} changed meanwhile; retry", type="deployment-state"
            )
        self.refresh_status_metrics()
        moved = self.store.get(d.id)
        assert moved is not None
        return moved

    def _apply(
        self, d: Deployment, move: Move, step: Step, trigger: str, *, verdict: str | None = None
    ) -> bool:
        now = self.clock()
        checks = [check_doc(c) for c in step.judgement.checks]
        close = None
        if d.status is Status.RUNNING:  # a paused deployment's stage attempt is already closed
            close = (verdict or step.judgement.verdict.value, step.reason, checks)
        if move is Move.ADVANCE:
            index, seq = d.stage_index + 1, d.stage_seq + 1
            stage = d.plan[index]
            change = Transition(
                values={
                    "status": Status.RUNNING.value,
                    "stage_index": index,
                    "stage_seq": seq,
                    "stage_started_at": now,
                },
                close_stage=close,
                open_stage=stage,
                rule=self._rule(d, stage, seq),
                at=now,
            )
        elif move is Move.COMPLETE:
            change = Transition(
                values={
                    "status": Status.COMPLETED.value,
                    # promote?full=true skips the stages left: the document shows the last.
                    "stage_index": len(d.plan) - 1,
                    "finished_at": now,
                    "reason": step.reason,
                },
                close_stage=close,
                rule=self._settled(d, d.target),
                at=now,
            )
        elif move is Move.ROLLBACK:
            status = Status.ABORTED if trigger == "manual" else Status.ROLLED_BACK
            change = Transition(
                values={"status": status.value, "finished_at": now, "reason": step.reason},
                close_stage=close,
                rule=self._settled(d, d.previous),
                rollback=Rollback(
                    d.id, d.tenant, d.target, d.previous, d.stage_index, trigger, step.reason, now
                ),
                at=now,
            )
        elif move is Move.PAUSE:
            change = Transition(
                values={"status": Status.PAUSED.value, "reason": step.reason},
                close_stage=close,
                rule=self._rule(d, d.stage, None),  # keep the split, stop counting
                at=now,
            )
        else:  # RESUME: the current stage again, with a fresh window and fresh counts
            seq = d.stage_seq + 1
            change = Transition(
                values={
                    "status": Status.RUNNING.value,
                    "stage_seq": seq,
                    "stage_started_at": now,
                    "reason": step.reason,
                },
                open_stage=d.stage,
                rule=self._rule(d, d.stage, seq),
                at=now,
            )
        if not self.store.transition(d, change):
            return False
        if move in (Move.COMPLETE, Move.ROLLBACK):
            status = change.values["status"]
            seconds = (now - d.created_at).total_seconds()
            self.metrics.deployment_duration.labels(d.strategy.value, status).observe(seconds)
        if move is Move.ROLLBACK:
            self.metrics.rollbacks.labels(d.strategy.value, trigger).inc()
        return True

    def get(self, deployment_id: str, *, can_see: Callable[[str], bool]) -> Deployment:
        """One deployment; 404 when absent or another tenant's."""
        deployment = self.store.get(deployment_id)
        if deployment is None or not can_see(deployment.tenant):
            raise Problem(404, f"no deployment {deployment_id!r}", type="not-found")
        return deployment

    def refresh_status_metrics(self) -> None:
        """Publish the per-(strategy, status) deployment counts."""
        self.metrics.set_deployment_counts(self.store.status_counts())
