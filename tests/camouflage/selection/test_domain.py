"""Thompson sampling: it finds the more engaging decoy, and P(best) is reproducible."""

from __future__ import annotations

import numpy as np
import pytest

from shieldx.camouflage.selection.domain import ThompsonSelector


def test_converges_to_the_better_arm_in_a_simulated_environment() -> None:
    # Three decoys whose sessions become engaged with these (unknown) probabilities.
    truth = {"nginx": 0.2, "apache": 0.35, "iis": 0.6}
    bandit = ThompsonSelector(list(truth), rng=np.random.default_rng(7))
    world = np.random.default_rng(11)
    late: list[str] = []
    for round_ in range(3000):
        chosen = bandit.select().decoy
        bandit.observe(chosen, float(world.random() < truth[chosen]))
        if round_ >= 2500:
            late.append(chosen)
    assert late.count("iis") / len(late) > 0.85
    best = bandit.probability_best(samples=20_000, seed=0)
    assert best["iis"] > 0.95
    assert bandit.arms["iis"].pulls > bandit.arms["nginx"].pulls
    assert abs(bandit.arms["iis"].mean_reward - 0.6) < 0.05
    assert sum(arm.selections for arm in bandit.arms.values()) == 3000


def test_probability_best_is_seeded_and_sums_to_one() -> None:
    bandit = ThompsonSelector(["a", "b", "c"], rng=np.random.default_rng(1))
    for _ in range(10):
        bandit.observe("a", 1.0)
        bandit.observe("b", 0.0)
    first = bandit.probability_best(samples=5000, seed=3)
    assert first == bandit.probability_best(samples=5000, seed=3)
    assert sum(first.values()) == pytest.approx(1.0)
    assert first["a"] > first["c"] > first["b"]


def test_posterior_counts_fractional_rewards_and_retractions() -> None:
    bandit = ThompsonSelector(["a"], prior_alpha=2.0, prior_beta=3.0)
    bandit.observe("a", 0.25)
    assert bandit.posterior("a") == (2.25, 3.75)
    bandit.retract("a", 0.25)
    bandit.observe("a", 1.0)
    assert bandit.posterior("a") == (3.0, 3.0)
    assert bandit.arms["a"].pulls == 1
    with pytest.raises(ValueError, match="between 0 and 1"):
        bandit.observe("a", 1.5)


def test_load_takes_stored_evidence_for_configured_arms_only() -> None:
    bandit = ThompsonSelector(["a", "b"])
    bandit.load(
        {
            "a": {"pulls": 10, "successes": 7.0, "selections": 12},
            "gone": {"pulls": 99, "successes": 1.0, "selections": 99},
        }
    )
    assert bandit.posterior("a") == (8.0, 4.0)
    assert bandit.arms["a"].selections == 12
    assert "gone" not in bandit.arms
    row = bandit.row("a", now=5.0)
    assert row["alpha"] == 8.0 and row["pulls"] == 10 and row["updated_at"] == 5.0


def test_needs_an_arm() -> None:
    with pytest.raises(ValueError, match="at least one arm"):
        ThompsonSelector([])
