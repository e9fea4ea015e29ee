"""Request bodies and response documents of the A/B test routes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from shieldx.shadow.body import Answer, Body, check_optional_sticky_key
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


# Responses ------------------------------------------------------------------------------------


class PriorOut(Answer):
    """The test's Gaussian prior on the effect."""

    mean: float
    variance: float
    proper: bool
    scale: str


class ExperimentOut(Answer):
    """An A/B test's definition and state (times RFC 3339, null until they happen)."""

    id: str
    tenant: str
    name: str
    status: str = Field(description="running | decided | stopped")
    control: str = Field(description="name@version")
    candidate: str = Field(description="name@version")
    split: float
    metric: Metric
    prior: PriorOut
    min_samples: int
    sticky_key: str
    seed: str
    winner: str | None
    reason: str | None
    created_at: str
    decided_at: str | None
    stopped_at: str | None


class ExperimentCreated(ExperimentOut):
    """POST /shadow/evaluate: the new test (test_id repeats id)."""

    test_id: str


class RatesOut(Answer):
    """A variant's rates; null where the denominator is zero."""

    block_rate: float | None
    false_positive_rate: float | None
    detection_rate: float | None
    error_rate: float | None


class VariantOut(Answer):
    """One variant: its rule set, counters and rates."""

    ruleset: str
    version: int
    n: int
    blocks: int
    true_positives: int
    false_positives: int
    true_negatives: int
    false_negatives: int
    errors: int
    rates: RatesOut


class VariantsOut(Answer):
    """Both variants."""

    control: VariantOut
    candidate: VariantOut


class VerdictDiffOut(Answer):
    """How the two variants' verdicts differ on the same requests."""

    requests: int
    agreement_rate: float | None
    matrix: dict[str, dict[str, int]] = Field(description="control action -> candidate action")
    new_blocks: dict[str, int] = Field(description="candidate rule -> requests it newly blocks")
    new_allows: dict[str, int] = Field(description="control rule -> requests newly allowed")


class BlastRadiusOut(Answer):
    """Requests and distinct clients the candidate would newly block."""

    requests: int
    clients: int
    clients_exact: bool
    clients_exact_bound: int
    clients_relative_error: float


class RiskOut(Answer):
    """Expected loss of choosing each variant."""

    control: float
    candidate: float


class EffectOut(Answer):
    """One difference scale of the posterior (error names why it could not be computed)."""

    expected: float
    stddev: float
    ci_95: list[float]
    chance_to_win: float
    risk: RiskOut
    error: str | None


class BayesianOut(Answer):
    """The Bayesian comparison of the metric."""

    metric: str
    lower_is_better: bool
    control_rate: float
    candidate_rate: float
    absolute: EffectOut
    relative: EffectOut


class SrmOut(Answer):
    """The sample ratio mismatch check."""

    p_value: float
    ok: bool
    threshold: float
    expected_candidate_share: float
    observed_candidate_share: float | None


class ReadinessOut(Answer):
    """Whether the test may be decided, what blocks it, and the recommendation."""

    ready: bool
    blocked_by: list[str]
    recommendation: str | None
    threshold: float


class ResultsOut(ExperimentOut):
    """GET /shadow/results/{id}."""

    variants: VariantsOut
    verdict_diff: VerdictDiffOut
    blast_radius: BlastRadiusOut
    bayesian: BayesianOut
    srm: SrmOut
    decision: ReadinessOut
