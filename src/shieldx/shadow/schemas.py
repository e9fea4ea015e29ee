"""Request bodies of the shadow API (responses are plain documents built by the service)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal, Self

from pydantic import ConfigDict, Field, field_validator, model_validator

from shieldx.platform.schemas import RequestModel
from shieldx.shadow.experiments.stats import Metric
from shieldx.shadow.rollouts.domain import Strategy
from shieldx.shadow.rules.domain import ErrorPolicy
from shieldx.shadow.settings import check_stages, check_sticky_key
from shieldx.shadow.timeutil import Duration

_WEEK = timedelta(days=7)


class Body(RequestModel):
    """Base of every request body: unknown keys and control characters in strings are refused."""

    # allow_inf_nan: JSON has no Infinity, but 1e309 parses to it; no field means that.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class RuleIn(Body):
    """One rule; the domain checks the id, action and expression and names the rule at fault."""

    multiline_fields = frozenset({"expression", "description"})

    id: str = Field(max_length=128)
    expression: str = Field(max_length=65_536)
    action: str = Field(max_length=32)
    priority: int = 0
    description: str = Field("", max_length=2000)


class RuleSetCreate(Body):
    """POST /shadow/rulesets."""

    name: str = Field(max_length=64)
    rules: list[RuleIn] = Field(min_length=1, max_length=1000)
    on_error: ErrorPolicy = ErrorPolicy.FAIL_OPEN


class PriorIn(Body):
    """A Gaussian prior on the effect (proper by default when given)."""

    mean: float = Field(0.0, ge=-1e6, le=1e6)
    variance: float = Field(1.0, gt=0, le=1e6)
    proper: bool = True
    scale: Literal["relative", "absolute"] = "relative"


def _sticky(value: str | None) -> str | None:
    return None if value is None else check_sticky_key(value)


class ExperimentCreate(Body):
    """POST /shadow/evaluate: start an A/B test."""

    name: str = Field(min_length=1, max_length=200)
    control: str = Field(max_length=80)
    candidate: str = Field(max_length=80)
    split: float = Field(50.0, gt=0, lt=100)
    metric: Metric = Metric.BLOCK_RATE
    prior: PriorIn | None = None
    min_samples: int = Field(100, ge=0, le=1_000_000_000)
    sticky_key: str | None = Field(None, max_length=300)
    # As GrowthBook's experiment seed: units are hashed with "seed:unit". Two tests with the
    # same seed and split put every unit in the same variant; the default is the test id.
    seed: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")

    @field_validator("sticky_key")
    @classmethod
    def _sticky_key(cls, value: str | None) -> str | None:
        return _sticky(value)


class ExperimentEnd(Body):
    """POST /shadow/tests/{id}/decide or /stop."""

    winner: Literal["control", "candidate"] | None = None
    reason: str = Field("", max_length=1000)


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
        return _sticky(value)

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


class TargetingIn(Body):
    """A flag targeting rule."""

    multiline_fields = frozenset({"expression"})

    expression: str = Field(max_length=8192)
    variant: str = Field(max_length=128)


class RolloutIn(Body):
    """A flag's gradual rollout."""

    variant: str = Field(max_length=128)
    percentage: int = Field(ge=0, le=100)
    stickiness: str = Field("targetingKey", max_length=128)


class FlagBody(Body):
    """PUT /shadow/flags/{key}: the whole definition."""

    variants: dict[str, Any] = Field(min_length=1, max_length=100)
    default_variant: str = Field(max_length=128)
    enabled: bool = True
    targeting: list[TargetingIn] = Field(default_factory=list, max_length=100)
    rollout: RolloutIn | None = None

    def definition(self) -> dict[str, Any]:
        """The stored definition (everything but the key and the switch)."""
        return self.model_dump(exclude={"enabled"})


class FlagCreate(FlagBody):
    """POST /shadow/flags."""

    key: str = Field(max_length=128)


class FlagPatch(Body):
    """PATCH /shadow/flags/{key}: only the keys given change ({"enabled": false} kills it)."""

    variants: dict[str, Any] | None = Field(None, min_length=1, max_length=100)
    default_variant: str | None = Field(None, max_length=128)
    enabled: bool | None = None
    targeting: list[TargetingIn] | None = Field(None, max_length=100)
    rollout: RolloutIn | None = None


class EvaluateIn(Body):
    """POST /shadow/flags/{key}/evaluate."""

    context: dict[str, Any] = Field(default_factory=dict)
