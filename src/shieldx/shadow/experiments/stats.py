"""Bayesian A/B statistics, following gbstats 0.8.0's effect model, and the SRM check.

For a proportion metric each variant has a mean p = x / n and variance p (1 - p) (gbstats'
ProportionStatistic). The data estimate of the difference is

    absolute:  d = p_b - p_a                     var = v_b / n_b + v_a / n_a
    relative:  d = (p_b - p_a) / p_a             var = v_b / (p_a^2 n_b) + v_a p_b^2 / (p_a^4 n_a)

(the relative variance is the delta method). With the default improper flat prior the
posterior of the effect is Normal(d, var). A proper Gaussian prior N(m0, s0^2) (given on the
relative scale by default and rescaled by p_a, or by p_a^2 for its variance, for absolute
differences) gives the precision-weighted posterior 1/s^2 = 1/var + 1/s0^2 and
mu = (d / var + m0 / s0^2) s^2. Then, with z = mu / s:

    chance to win   Phi(z)  (Phi(-z) when lower is better)
    credible interval  mu +/- Phi^-1(1 - alpha/2) s
    risk of choosing control    E[max(X, 0)]  = mu Phi(z) + s phi(z)
    risk of choosing candidate  E[max(-X, 0)] = s phi(z) - mu Phi(-z)

(the risks are swapped when lower is better). These are the closed forms of gbstats'
truncated-normal expressions. gbstats returns an uninformative result (chance 0.5, zero
interval and risks, an error code) when a variant is empty, a variance is zero (a rate of
exactly 0 or 1) or, for relative differences, the control rate is zero; so do we.

SRM: Pearson's chi-square of the assignment counts against the configured split, with
len(counts) - 1 degrees of freedom; a p-value below 0.001 blocks a decision.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal

from scipy.special import chdtrc, ndtr, ndtri  # type: ignore[import-untyped]

SRM_THRESHOLD: Final = 0.001
NO_UNITS: Final = "NO_UNITS_IN_VARIATION"
ZERO_VARIANCE: Final = "ZERO_NEGATIVE_VARIANCE"
ZERO_BASELINE: Final = "ZERO_NEGATIVE_BASELINE_VARIATION"


class Metric(StrEnum):
    """What an A/B test compares."""

    BLOCK_RATE = "block_rate"
    FALSE_POSITIVE_RATE = "false_positive_rate"
    DETECTION_RATE = "detection_rate"

    @property
    def lower_is_better(self) -> bool:
        """Only the false-positive rate wins by going down; more blocking counts as winning."""
        return self is Metric.FALSE_POSITIVE_RATE


@dataclass(frozen=True, slots=True)
class VariantCounts:
    """Per-variant tallies: assigned requests, blocks, and the labelled confusion counts."""

    n: int
    blocks: int
    true_positives: int = 0
    false_positives: int = 0
    true_negatives: int = 0
    false_negatives: int = 0

    def __post_init__(self) -> None:
        counts = (
            self.n,
            self.blocks,
            self.true_positives,
            self.false_positives,
            self.true_negatives,
            self.false_negatives,
        )
        if min(counts) < 0:
            raise ValueError("counts must not be negative")
        if self.blocks > self.n or sum(counts[2:]) > self.n:
            raise ValueError("blocks and labelled counts cannot exceed n")

    def proportion(self, metric: Metric) -> tuple[int, int]:
        """(successes, trials) of the metric: blocks/n, FP/(FP+TN) or TP/(TP+FN)."""
        if metric is Metric.BLOCK_RATE:
            return self.blocks, self.n
        if metric is Metric.FALSE_POSITIVE_RATE:
            return self.false_positives, self.false_positives + self.true_negatives
        return self.true_positives, self.true_positives + self.false_negatives


@dataclass(frozen=True, slots=True)
class GaussianPrior:
    """A Gaussian prior on the effect; improper (flat) unless `proper`."""

    mean: float = 0.0
    variance: float = 1.0
    proper: bool = False
    scale: Literal["relative", "absolute"] = "relative"


@dataclass(frozen=True, slots=True)
class Effect:
    """The posterior of the candidate-minus-control difference on one scale."""

    difference: Literal["absolute", "relative"]
    expected: float
    stddev: float
    ci_low: float
    ci_high: float
    chance_to_win: float
    risk_control: float
    risk_candidate: float
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ABResult:
    """The comparison of two variants on a metric, with the SRM check."""

    metric: Metric
    control_rate: float
    candidate_rate: float
    absolute: Effect
    relative: Effect
    srm_p_value: float

    @property
    def srm_ok(self) -> bool:
        """False when the assignment counts are too unlikely under the configured split."""
        return self.srm_p_value >= SRM_THRESHOLD


def compare(
    control: VariantCounts,
    candidate: VariantCounts,
    metric: Metric,
    *,
    prior: GaussianPrior = GaussianPrior(),
    alpha: float = 0.05,
    candidate_share: float = 0.5,
) -> ABResult:
    """Compare candidate against control on a metric, on both difference scales."""
    if not 0.0 < candidate_share < 1.0:
        raise ValueError(f"candidate_share must be between 0 and 1 (got {candidate_share})")
    (xa, na), (xb, nb) = control.proportion(metric), candidate.proportion(metric)
    inverse = metric.lower_is_better
    return ABResult(
        metric=metric,
        control_rate=xa / na if na else 0.0,
        candidate_rate=xb / nb if nb else 0.0,
        absolute=effect(xa, na, xb, nb, relative=False, inverse=inverse, prior=prior, alpha=alpha),
        relative=effect(xa, na, xb, nb, relative=True, inverse=inverse, prior=prior, alpha=alpha),
        srm_p_value=srm_p_value([control.n, candidate.n], [1.0 - candidate_share, candidate_share]),
    )


def effect(
    control_successes: int,
    control_n: int,
    candidate_successes: int,
    candidate_n: int,
    *,
    relative: bool,
    inverse: bool = False,
    prior: GaussianPrior = GaussianPrior(),
    alpha: float = 0.05,
) -> Effect:
    """gbstats' EffectBayesianABTest on two proportions (see the module docstring)."""
    kind: Literal["absolute", "relative"] = "relative" if relative else "absolute"
    if control_n == 0 or candidate_n == 0:
        return _uninformative(kind, NO_UNITS)
    pa, pb = control_successes / control_n, candidate_successes / candidate_n
    if relative and pa == 0:
        return _uninformative(kind, ZERO_BASELINE)
    va, vb = pa * (1 - pa), pb * (1 - pb)
    if va <= 0 or vb <= 0:
        return _uninformative(kind, ZERO_VARIANCE)
    if relative:
        data_mean = (pb - pa) / pa
        data_var = vb / (pa**2 * candidate_n) + va * pb**2 / (pa**4 * control_n)
    else:
        data_mean, data_var = pb - pa, vb / candidate_n + va / control_n
    prior_mean, prior_var = _rescaled_prior(prior, relative, pa)
    precision = 1 / data_var + (1 / prior_var if prior.proper else 0.0)
    mu = (data_mean / data_var + prior_mean / prior_var) / precision if prior.proper else data_mean
    sigma = math.sqrt(1 / precision)
    z = mu / sigma
    density = math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    risk_control = mu * float(ndtr(z)) + sigma * density
    risk_candidate = sigma * density - mu * float(ndtr(-z))
    if inverse:
        risk_control, risk_candidate = risk_candidate, risk_control
    half = float(ndtri(1 - alpha / 2)) * sigma
    return Effect(
        difference=kind,
        expected=mu,
        stddev=sigma,
        ci_low=mu - half,
        ci_high=mu + half,
        chance_to_win=float(ndtr(-z if inverse else z)),
        risk_control=risk_control,
        risk_candidate=risk_candidate,
    )


def _rescaled_prior(
    prior: GaussianPrior, relative: bool, control_rate: float
) -> tuple[float, float]:
    if relative and prior.scale == "absolute":
        return prior.mean / abs(control_rate), prior.variance / control_rate**2
    if not relative and prior.scale == "relative":
        return prior.mean * abs(control_rate), prior.variance * control_rate**2
    return prior.mean, prior.variance


def _uninformative(kind: Literal["absolute", "relative"], error: str) -> Effect:
    return Effect(kind, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0, error)


def srm_p_value(observed: Sequence[int], weights: Sequence[float]) -> float:
    """Pearson chi-square p-value of observed counts against expected weights (gbstats check_srm)."""
    if len(observed) != len(weights) or len(observed) < 2:
        raise ValueError("need one weight per variant and at least two variants")
    total, total_weight = sum(observed), sum(weights)
    if not total:
        return 1.0
    statistic = 0.0
    for count, weight in zip(observed, weights, strict=True):
        expected = weight / total_weight * total
        if expected <= 0:  # a zero weight (or one that underflows) is no expectation at all
            continue
        statistic += (count - expected) ** 2 / expected
    return float(chdtrc(len(observed) - 1, statistic))
