"""Our statistics against gbstats 0.8.0 itself (EffectBayesianABTest, check_srm)."""

from __future__ import annotations

import pytest
from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig
from gbstats.bayesian.tests import GaussianPrior as GbPrior
from gbstats.models.statistics import ProportionStatistic
from gbstats.utils import check_srm
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from shieldx.shadow.experiments.stats import (
    NO_UNITS,
    ZERO_BASELINE,
    ZERO_VARIANCE,
    GaussianPrior,
    Metric,
    VariantCounts,
    compare,
    effect,
    srm_p_value,
)

TOLERANCE = 1e-6
PRIORS = st.one_of(
    st.just(GaussianPrior()),
    st.builds(
        GaussianPrior,
        mean=st.floats(-0.5, 0.5),
        variance=st.floats(1e-4, 2.0),
        proper=st.just(True),
        scale=st.sampled_from(["relative", "absolute"]),
    ),
)


@st.composite
def proportions(draw: st.DrawFn) -> tuple[int, int]:
    n = draw(st.integers(1, 200_000))
    return draw(st.integers(0, n)), n


def gbstats_result(
    xa: int, na: int, xb: int, nb: int, relative: bool, inverse: bool, prior: GaussianPrior
) -> object:
    config = EffectBayesianConfig(
        difference_type="relative" if relative else "absolute",
        inverse=inverse,
        prior_effect=GbPrior(prior.mean, prior.variance, prior.proper),
        prior_type=prior.scale,
    )
    stat_a, stat_b = ProportionStatistic(n=na, sum=xa), ProportionStatistic(n=nb, sum=xb)
    return EffectBayesianABTest(stat_a, stat_b, config).compute_result()


# gbstats asks scipy's truncnorm for all four moments to use the mean; for extreme truncations
# the unused skewness computation warns. The figures compared below are unaffected.
@pytest.mark.filterwarnings("ignore:invalid value encountered in power:RuntimeWarning")
@settings(max_examples=400, deadline=None)
@given(proportions(), proportions(), st.booleans(), st.booleans(), PRIORS)
def test_effect_agrees_with_gbstats(
    control: tuple[int, int],
    candidate: tuple[int, int],
    relative: bool,
    inverse: bool,
    prior: GaussianPrior,
) -> None:
    (xa, na), (xb, nb) = control, candidate
    # gbstats divides by the control rate while rescaling a prior, before its own zero check.
    assume(not (xa == 0 and prior.proper and (relative != (prior.scale == "relative"))))
    theirs = gbstats_result(xa, na, xb, nb, relative, inverse, prior)
    ours = effect(xa, na, xb, nb, relative=relative, inverse=inverse, prior=prior)
    assert ours.error == theirs.error_message  # type: ignore[attr-defined]
    figures = {
        "chance_to_win": (ours.chance_to_win, theirs.chance_to_win),  # type: ignore[attr-defined]
        "expected": (ours.expected, theirs.expected),  # type: ignore[attr-defined]
        "ci_low": (ours.ci_low, theirs.ci[0]),  # type: ignore[attr-defined]
        "ci_high": (ours.ci_high, theirs.ci[1]),  # type: ignore[attr-defined]
        "risk_control": (ours.risk_control, theirs.risk[0]),  # type: ignore[attr-defined]
        "risk_candidate": (ours.risk_candidate, theirs.risk[1]),  # type: ignore[attr-defined]
    }
    for name, (mine, reference) in figures.items():
        assert abs(mine - reference) <= TOLERANCE, f"{name}: {mine} vs gbstats {reference}"


@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
@pytest.mark.parametrize("inverse", [False, True], ids=["higher-better", "lower-better"])
@pytest.mark.parametrize(
    "prior",
    [
        GaussianPrior(),
        GaussianPrior(0.02, 0.05**2, True),
        GaussianPrior(0.001, 0.003**2, True, "absolute"),
    ],
    ids=["flat", "gaussian-relative", "gaussian-absolute"],
)
def test_every_combination_agrees_on_a_typical_test(
    relative: bool, inverse: bool, prior: GaussianPrior
) -> None:
    theirs = gbstats_result(412, 10_000, 468, 10_150, relative, inverse, prior)
    ours = effect(412, 10_000, 468, 10_150, relative=relative, inverse=inverse, prior=prior)
    assert ours.error is None
    assert abs(ours.chance_to_win - theirs.chance_to_win) <= TOLERANCE  # type: ignore[attr-defined]
    assert abs(ours.ci_low - theirs.ci[0]) <= TOLERANCE  # type: ignore[attr-defined]
    assert abs(ours.ci_high - theirs.ci[1]) <= TOLERANCE  # type: ignore[attr-defined]
    assert abs(ours.risk_control - theirs.risk[0]) <= TOLERANCE  # type: ignore[attr-defined]
    assert abs(ours.risk_candidate - theirs.risk[1]) <= TOLERANCE  # type: ignore[attr-defined]
    assert 0.0 < ours.chance_to_win < 1.0 and ours.risk_control > 0 and ours.risk_candidate > 0


@pytest.mark.parametrize(
    ("control", "candidate", "relative", "error"),
    [
        ((0, 0), (3, 10), False, NO_UNITS),
        ((0, 10), (3, 10), True, ZERO_BASELINE),
        ((0, 10), (3, 10), False, ZERO_VARIANCE),
        ((10, 10), (3, 10), False, ZERO_VARIANCE),
    ],
)
def test_uninformative_results_match_gbstats(
    control: tuple[int, int], candidate: tuple[int, int], relative: bool, error: str
) -> None:
    ours = effect(*control, *candidate, relative=relative)
    theirs = gbstats_result(*control, *candidate, relative, False, GaussianPrior())
    assert ours.error == theirs.error_message == error  # type: ignore[attr-defined]
    assert (ours.chance_to_win, ours.ci_low, ours.ci_high, ours.risk_control) == (
        0.5,
        0.0,
        0.0,
        0.0,
    )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 10**6), min_size=2, max_size=4).flatmap(
        lambda counts: st.tuples(
            st.just(counts),
            st.lists(
                st.one_of(st.just(0.0), st.floats(1e-6, 1.0)),
                min_size=len(counts),
                max_size=len(counts),
            ),
        )
    )
)
def test_srm_agrees_with_gbstats(data: tuple[list[int], list[float]]) -> None:
    counts, weights = data
    assume(sum(weights) > 0)
    assert abs(srm_p_value(counts, weights) - float(check_srm(counts, weights))) <= TOLERANCE


def test_lower_is_better_flips_chance_and_risk() -> None:
    control = VariantCounts(n=10_000, blocks=600, false_positives=300, true_negatives=9000)
    candidate = VariantCounts(n=10_000, blocks=500, false_positives=150, true_negatives=9200)
    fp = compare(control, candidate, Metric.FALSE_POSITIVE_RATE)
    assert fp.candidate_rate < fp.control_rate
    assert fp.relative.chance_to_win > 0.99 and fp.absolute.chance_to_win > 0.99
    assert fp.absolute.risk_candidate < fp.absolute.risk_control
    blocks = compare(control, candidate, Metric.BLOCK_RATE)
    assert blocks.absolute.chance_to_win < 0.01
    assert blocks.absolute.ci_high < 0 < fp.absolute.ci_low or blocks.absolute.ci_high < 0


def test_srm_blocks_a_decision_below_one_in_a_thousand() -> None:
    balanced = compare(VariantCounts(5000, 10), VariantCounts(5050, 12), Metric.BLOCK_RATE)
    skewed = compare(VariantCounts(5000, 10), VariantCounts(5400, 12), Metric.BLOCK_RATE)
    assert balanced.srm_ok and not skewed.srm_ok
    uneven = compare(
        VariantCounts(9000, 10), VariantCounts(1000, 2), Metric.BLOCK_RATE, candidate_share=0.1
    )
    assert uneven.srm_ok


def test_metric_proportions() -> None:
    counts = VariantCounts(
        n=100,
        blocks=30,
        true_positives=20,
        false_positives=10,
        true_negatives=60,
        false_negatives=5,
    )
    assert counts.proportion(Metric.BLOCK_RATE) == (30, 100)
    assert counts.proportion(Metric.FALSE_POSITIVE_RATE) == (10, 70)
    assert counts.proportion(Metric.DETECTION_RATE) == (20, 25)
    with pytest.raises(ValueError, match="exceed"):
        VariantCounts(n=1, blocks=2)
    with pytest.raises(ValueError, match="negative"):
        VariantCounts(n=1, blocks=-1)
