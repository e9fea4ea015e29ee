"""Targets: categorical picks, conditional marginals, and CDFs of quantised, clipped draws."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shieldx.camouflage.synth.distributions import (
    Categorical,
    Conditional,
    Distribution,
    Exponential,
    Grid,
    LogNormal,
    Normal,
    Pareto,
    Uniform,
)
from shieldx.camouflage.synth.metrics import grid_ks_statistic

COLOURS = Categorical({"red": 3, "green": 1})
SHAPES = Conditional(
    {"red": Categorical({"circle": 1, "square": 1}), "green": Categorical({"square": 1})}
)


def test_weights_are_normalised() -> None:
    assert COLOURS.probabilities() == {"red": 0.75, "green": 0.25}


def test_pick_maps_the_unit_interval_in_order() -> None:
    picks = COLOURS.pick(np.array([0.0, 0.7499, 0.75, 0.9999]))
    assert picks.tolist() == [0, 0, 1, 1]


def test_sample_frequencies_follow_the_weights() -> None:
    drawn = COLOURS.sample(np.random.default_rng(1), 20_000)
    assert drawn.count("red") / len(drawn) == pytest.approx(0.75, abs=0.015)


@pytest.mark.parametrize("weights", [{}, {"a": 0.0}, {"a": -1.0, "b": 2.0}])
def test_unusable_weights_are_refused(weights: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="weights"):
        Categorical(weights)


def test_weights_cannot_be_changed_afterwards() -> None:
    with pytest.raises(TypeError):
        COLOURS.weights["red"] = 100  # type: ignore[index]


def test_conditional_marginal_and_consistency() -> None:
    assert SHAPES.marginal(COLOURS.probabilities()) == pytest.approx(
        {"circle": 0.375, "square": 0.625}
    )
    parents = COLOURS.sample(np.random.default_rng(2), 500)
    children = SHAPES.sample(np.random.default_rng(3), parents)
    assert all(c == "square" for p, c in zip(parents, children, strict=True) if p == "green")


def test_conditional_refuses_an_unknown_parent() -> None:
    with pytest.raises(ValueError, match="'blue'"):
        SHAPES.sample(np.random.default_rng(0), ["red", "blue"])


def test_grid_quantises_then_clips() -> None:
    grid = Grid(0.5, low=1.0, high=3.0)
    assert grid.apply(np.array([0.2, 1.26, 1.74, 9.0])).tolist() == [1.0, 1.5, 1.5, 3.0]
    floor = Grid(1, rounding="floor")
    assert floor.apply(np.array([2.999, 3.0])).tolist() == [2.0, 3.0]


def test_clipped_normal_puts_the_clipped_mass_on_the_edges() -> None:
    age = Normal(35, 15, Grid(1, low=18, high=90))
    below_18_5 = 0.5 * math.erfc(-(18.5 - 35) / 15 / math.sqrt(2))
    assert age.cdf([17, 18, 89, 90]).tolist() == pytest.approx(
        [0.0, below_18_5, 1 - 1e-4, 1.0], abs=2e-4
    )
    drawn = age.sample(np.random.default_rng(4), 50_000)
    assert drawn.min() == 18 and drawn.max() <= 90
    assert np.mean(drawn == 18) == pytest.approx(below_18_5, abs=0.006)


TARGETS: list[Distribution] = [
    Normal(35, 15, Grid(1, low=18, high=90)),
    Exponential(4.0, Grid(0.01)),
    LogNormal(12.0, 0.9, Grid(0.1, low=0.1, high=1440)),
    Pareto(1.161, 1_000, Grid(1, high=5_000_000, rounding="floor")),
    Uniform(10, 20, Grid(1, rounding="floor")),
]


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.describe().split("(")[0])
def test_each_target_cdf_matches_its_own_draws(target: Distribution) -> None:
    drawn = target.sample(np.random.default_rng(8), 20_000)
    # 1.63 / sqrt(n) is the 1% critical value of the KS statistic.
    assert grid_ks_statistic(drawn, target.cdf, target.grid.step) < 1.63 / math.sqrt(20_000)


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.describe().split("(")[0])
def test_each_target_cdf_is_a_cdf(target: Distribution) -> None:
    drawn = np.unique(target.sample(np.random.default_rng(9), 2_000))
    values = target.cdf(drawn)
    assert np.all(np.diff(values) >= 0)
    assert values[-1] <= 1.0 and target.cdf([drawn[0] - 10 * target.grid.step])[0] <= values[0]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32), head=st.integers(0, 50))
def test_draws_are_prefix_stable(seed: int, head: int) -> None:
    target = TARGETS[2]
    many = target.sample(np.random.default_rng(seed), 60)
    assert target.sample(np.random.default_rng(seed), head).tolist() == many[:head].tolist()
