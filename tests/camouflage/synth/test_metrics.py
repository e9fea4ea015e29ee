"""The statistics: exact discrete KS, TV distance, bigram similarity, novelty and Poisson PIT."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats  # type: ignore[import-untyped]

from shieldx.camouflage.synth.metrics import (
    Cdf,
    FloatArray,
    bigram_distribution,
    bigram_tv_complement,
    continuous_ks_statistic,
    grid_ks_statistic,
    novelty,
    poisson_pit,
    total_variation,
    two_sample_ks_statistic,
)


def die_cdf(x: FloatArray) -> FloatArray:
    """CDF of a fair six-sided die."""
    return np.asarray(np.clip(np.floor(x), 0, 6) / 6, dtype=np.float64)


def test_grid_ks_is_zero_for_a_perfectly_matched_discrete_sample() -> None:
    values = np.repeat(np.arange(1, 7), 100)
    assert grid_ks_statistic(values, die_cdf, 1.0) == pytest.approx(0.0, abs=1e-12)
    # The reason for our own statistic: scipy's assumes continuity and reports a big D.
    assert stats.kstest(values, die_cdf).statistic > 0.15


def brute_force_ks(values: FloatArray, cdf: Cdf, grid: FloatArray) -> float:
    """sup |F_n - F| evaluated at every grid point (both are constant in between)."""
    ecdf = np.array([np.mean(values <= point) for point in grid])
    return float(np.max(np.abs(ecdf - cdf(grid))))


def test_grid_ks_sees_a_value_the_sample_lacks() -> None:
    values = np.repeat([1, 2, 4, 5, 6], 120)  # no threes: F jumps at 3, the sample does not
    expected = brute_force_ks(values, die_cdf, np.arange(0.0, 8.0))
    assert expected == pytest.approx(0.1)
    assert grid_ks_statistic(values, die_cdf, 1.0) == pytest.approx(expected, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-2, 9), min_size=1, max_size=40))
def test_grid_ks_equals_the_brute_force_supremum(sample: list[int]) -> None:
    values = np.array(sample, dtype=np.float64)
    expected = brute_force_ks(values, die_cdf, np.arange(-3.0, 11.0))
    assert grid_ks_statistic(values, die_cdf, 1.0) == pytest.approx(expected, abs=1e-12)


def test_grid_ks_matches_scipy_for_continuous_data() -> None:
    values = np.random.default_rng(1).random(500)
    ours = grid_ks_statistic(values, lambda x: np.clip(x, 0, 1), 1e-12)
    assert ours == pytest.approx(stats.kstest(values, "uniform").statistic, abs=1e-9)
    assert continuous_ks_statistic(values, lambda x: np.clip(x, 0, 1)) == pytest.approx(
        stats.kstest(values, "uniform").statistic
    )


def test_ks_needs_values() -> None:
    with pytest.raises(ValueError, match="at least one"):
        grid_ks_statistic([], die_cdf, 1.0)
    with pytest.raises(ValueError, match="at least one"):
        continuous_ks_statistic([], die_cdf)


def test_two_sample_ks_of_equal_samples_is_zero() -> None:
    assert two_sample_ks_statistic([1, 2, 3], [3, 2, 1]) == 0.0
    assert two_sample_ks_statistic([1, 1], [2, 2]) == 1.0


def test_total_variation_known_values() -> None:
    assert total_variation(["a", "a", "b"], {"a": 0.5, "b": 0.5}) == pytest.approx(1 / 6)
    assert total_variation(["a"], {"b": 1.0}) == 1.0
    assert total_variation([None, 1], {None: 1, 1: 1}) == 0.0
    with pytest.raises(ValueError, match="at least one"):
        total_variation([], {"a": 1.0})


@settings(max_examples=50, deadline=None)
@given(
    observed=st.lists(st.sampled_from("abcd"), min_size=1, max_size=50),
    weights=st.dictionaries(st.sampled_from("abcde"), st.floats(0.01, 10), min_size=1),
)
def test_total_variation_is_a_distance_in_the_unit_interval(
    observed: list[str], weights: dict[str, float]
) -> None:
    distance = total_variation(observed, weights)
    assert 0.0 <= distance <= 1.0 + 1e-12
    counts = {k: observed.count(k) for k in set(observed)}
    assert total_variation(observed, counts) == pytest.approx(0.0, abs=1e-12)


def test_bigrams_include_word_boundaries() -> None:
    assert bigram_distribution(["ab"]) == pytest.approx({"\0a": 1 / 3, "ab": 1 / 3, "b\0": 1 / 3})


def test_bigram_tv_complement_extremes() -> None:
    assert bigram_tv_complement(["anna", "bob"], ["bob", "anna"]) == pytest.approx(1.0)
    assert bigram_tv_complement(["xyz"], ["abc"]) == pytest.approx(0.0)


def test_novelty_counts_copies() -> None:
    assert novelty(["ann", "bob", "zed", "ann"], ["ann", "bob"]) == 0.25
    with pytest.raises(ValueError, match="at least one"):
        novelty([], ["ann"])


def test_poisson_pit_is_uniform_for_poisson_counts_and_not_otherwise() -> None:
    rng = np.random.default_rng(3)
    rates = rng.uniform(0, 30, 20_000)
    counts = rng.poisson(rates)
    uniform = lambda x: np.clip(x, 0, 1)  # noqa: E731
    good = continuous_ks_statistic(poisson_pit(counts, rates, rng), uniform)
    assert good < 1.63 / np.sqrt(20_000)
    shifted = continuous_ks_statistic(poisson_pit(counts + 2, rates, rng), uniform)
    assert shifted > 0.2
