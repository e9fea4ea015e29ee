"""Request bodies of the deployment and gateway routes (responses are plain documents built by
the service)."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from shieldx.platform.settings_types import Duration
from shieldx.shadow.body import Body, check_optional_sticky_key
from shieldx.shadow.rollouts.domain import Strategy
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
