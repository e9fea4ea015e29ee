"""Request bodies and response documents of the deployment and gateway routes."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal, Self

from pydantic import ConfigDict, Field, field_validator, model_validator

from shieldx.platform.settings_types import Duration
from shieldx.shadow.body import Answer, Body, check_optional_sticky_key
from shieldx.shadow.rollouts.domain import Phase, Status, Strategy, Switch
from shieldx.shadow.settings import check_stages

_WEEK = timedelta(days=7)


class GatesIn(Body):
    """Deployment gates; a gate left out takes its default, an explicit null turns it off."""

    max_false_positive_rate: float | None = Field(None, ge=0, le=1)
    max_block_rate_increase: float | None = Field(None, ge=0, le=1)
    max_error_rate: float | None = Field(None, ge=0, le=1)
    min_samples_per_stage: int | None = Field(None, ge=0, le=1_000_000_000)
    confidence: float | None = Field(None, gt=0.5, lt=1)


class DeployCreate(Body):
    """POST /shadow/deploy."""

    test_id: str | None = Field(None, max_length=32)
    ruleset: str | None = Field(None, max_length=80)
    strategy: Strategy | None = None
    # blue_green only: gradual (10 validated steps, the default) or atomic.
    switch: Switch = Switch.GRADUAL
    stages: list[float] | None = None
    stage_duration: Duration | None = None
    post_promotion_window: Duration | None = None
    gates: GatesIn = Field(default_factory=GatesIn)
    auto_rollback: bool | None = None
    on_inconclusive: Literal["rollback", "pause"] | None = None
    max_inconclusive: Duration | None = None
    sticky_key: str | None = Field(None, max_length=300)

    @field_validator("sticky_key")
    @classmethod
    def _sticky_key(cls, value: str | None) -> str | None:
        return check_optional_sticky_key(value)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.test_id is None) == (self.ruleset is None):
            raise ValueError("name exactly one of test_id and ruleset")
        if self.stages is not None:
            check_stages(self.stages)
        for name in ("stage_duration", "post_promotion_window", "max_inconclusive"):
            value = getattr(self, name)
            if value is not None and not timedelta(0) <= value <= _WEEK:
                raise ValueError(f"{name} must be between 0s and 7d")
        return self


class GatewayIn(Body):
    """POST /shadow/gateways."""

    multiline_fields = frozenset({"description"})

    gateway_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
    description: str = Field("", max_length=500)


# Responses ------------------------------------------------------------------------------------


class DeploymentOut(Answer):
    """A deployment's definition and where it stands (times RFC 3339)."""

    id: str
    tenant: str
    strategy: Strategy
    status: Status
    target: str | None = Field(description="name@version being deployed")
    previous: str | None = Field(description="name@version it replaces (null for the first)")
    test_id: str | None
    stage_index: int
    stages_total: int
    percentage: float = Field(
        description="The target's share of traffic at the current stage (100 once completed)"
    )
    reason: str | None
    created_at: str
    updated_at: str
    finished_at: str | None
    created_by: str


class DeploymentCreated(DeploymentOut):
    """POST /shadow/deploy: the new deployment (deployment_id repeats id)."""

    deployment_id: str


class GatesOut(Answer):
    """The limits each stage must respect (null: not checked)."""

    max_false_positive_rate: float | None
    max_block_rate_increase: float | None
    max_error_rate: float | None
    min_samples_per_stage: int
    confidence: float


class PolicyOut(Answer):
    """Gates and what to do when they fail or stay inconclusive."""

    gates: GatesOut
    auto_rollback: bool
    max_inconclusive_s: float
    on_inconclusive: str


class PlanStageOut(Answer):
    """One planned stage."""

    phase: Phase
    percentage: float
    duration_s: float
    gateways: list[str]


class StageCountsOut(Answer):
    """What a stage saw."""

    requests: int
    blocks: int
    baseline_blocks: int
    errors: int
    benign: int
    false_positives: int


class GateCheckOut(Answer):
    """One gate's verdict with the observed figure, its limit and, if Bayesian, P(over limit)."""

    gate: str
    verdict: str
    observed: float | None
    limit: float | None
    probability_over_limit: float | None
    detail: str


class StageOut(Answer):
    """One stage attempt with its counts and, once ended, its verdict and gate figures."""

    seq: int
    stage_index: int
    phase: Phase
    percentage: float
    started_at: str
    ended_at: str | None
    verdict: str | None
    reason: str | None
    counts: StageCountsOut
    checks: list[GateCheckOut] | None = Field(description="null until the stage has ended")


class RollbackOut(Answer):
    """A switch back to the previous version."""

    model_config = ConfigDict(populate_by_name=True)

    from_: str | None = Field(alias="from")
    to: str | None
    stage_index: int
    trigger: str
    reason: str
    at: str


class CurrentStageOut(Answer):
    """The live judgement of the running stage."""

    stage_index: int
    seq: int
    started_at: str | None
    next_move: str
    verdict: str
    reason: str
    checks: list[GateCheckOut]


class DeploymentReport(DeploymentOut):
    """GET /shadow/deployments/{id}: the plan, the stage history with gate figures, rollbacks."""

    sticky_key: str
    policy: PolicyOut
    plan: list[PlanStageOut]
    stages: list[StageOut]
    rollbacks: list[RollbackOut]
    current: CurrentStageOut | None


class GatewayRegistered(Answer):
    """POST /shadow/gateways (201 new, 200 already registered)."""

    gateway_id: str
    tenant: str
    created: bool


class GatewayOut(Answer):
    """A registered gateway, in rolling order, with its last heartbeat (null: none yet)."""

    gateway_id: str
    description: str
    registered_at: str
    on_candidate: bool
    last_heartbeat_at: str | None
    healthy: bool | None = Field(description="heartbeat fresh and error rate within limits")
    error_rate: float | None
    latency_p95_ms: float | None


class HeartbeatIn(Body):
    """POST /shadow/gateways/{id}/heartbeat: what the gateway measured since its last one."""

    requests: int = Field(ge=0, le=10**12)
    error_rate: float = Field(ge=0, le=1, description="share of decisions that failed")
    latency_p95_ms: float = Field(ge=0, le=3_600_000, description="p95 of /shadow/decide calls")


class HeartbeatOut(Answer):
    """The recorded heartbeat and whether the gateway counts as healthy."""

    gateway_id: str
    tenant: str
    last_heartbeat_at: str
    requests: int
    error_rate: float
    latency_p95_ms: float
    healthy: bool


class EnvironmentOut(Answer):
    """An environment of the tenant: the version it runs and its share of traffic."""

    environment: str = Field(description="blue | green | canary | stable")
    ruleset: str = Field(description="name@version")
    percentage: float
    deployment_id: str | None
    updated_at: str
