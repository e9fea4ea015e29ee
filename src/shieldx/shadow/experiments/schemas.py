"""Request bodies of the A/B test routes (responses are plain documents built by the service)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from shieldx.shadow.body import Body, check_optional_sticky_key
from shieldx.shadow.experiments.stats import Metric


class PriorIn(Body):
    """A Gaussian prior on the effect (proper by default when given)."""

    mean: float = Field(0.0, ge=-1e6, le=1e6)
    variance: float = Field(1.0, gt=0, le=1e6)
    proper: bool = True
    scale: Literal["relative", "absolute"] = "relative"


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
        return check_optional_sticky_key(value)


class ExperimentEnd(Body):
    """POST /shadow/tests/{id}/decide or /stop."""

    winner: Literal["control", "candidate"] | None = None
    reason: str = Field("", max_length=1000)
