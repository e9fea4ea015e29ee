"""Thompson sampling over decoys with a Beta posterior on "the attacker stayed engaged". Pure.

Each decoy is an arm with a Beta(alpha, beta) posterior on the probability that a session on it
becomes engaged: ``alpha = prior_alpha + successes`` and ``beta = prior_beta + pulls -
successes``, where a pull is one observed session and its reward is in [0, 1] (1 for an engaged
session; feedback may give fractions, i.e. normalised engagement). To choose, draw one sample
from every posterior and take the largest: arms are picked as often as they are likely to be
the best, so exploration fades as the evidence grows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray


@dataclass
class ArmState:
    """The evidence about one decoy."""

    decoy: str
    pulls: int = 0
    successes: float = 0.0
    selections: int = 0

    @property
    def mean_reward(self) -> float:
        """The observed mean reward (0 before any observation)."""
        return self.successes / self.pulls if self.pulls else 0.0


@dataclass(frozen=True)
class Selection:
    """The chosen arm and the posterior draws that chose it."""

    decoy: str
    draws: dict[str, float]


class ThompsonSelector:
    """Beta-Bernoulli Thompson sampling over a fixed set of arms."""

    def __init__(
        self,
        arms: Sequence[str],
        *,
        prior_alpha: float = 1.0,
        prior_beta: float = 1.0,
        rng: np.random.Generator | None = None,
    ) -> None:
        if not arms:
            raise ValueError("a bandit needs at least one arm (configure camouflage.decoys)")
        self.prior_alpha = prior_alpha
        self.prior_beta = prior_beta
        self.arms: dict[str, ArmState] = {name: ArmState(name) for name in arms}
        self.rng = rng if rng is not None else np.random.default_rng()

    def load(self, stored: Mapping[str, Mapping[str, Any]]) -> None:
        """Take stored evidence for the arms that are still configured."""
        for name, row in stored.items():
            arm = self.arms.get(name)
            if arm is not None:
                arm.pulls = int(row["pulls"])
                arm.successes = float(row["successes"])
                arm.selections = int(row["selections"])

    def posterior(self, decoy: str) -> tuple[float, float]:
        """The (alpha, beta) of an arm's posterior."""
        arm = self.arms[decoy]
        return (
            self.prior_alpha + arm.successes,
            self.prior_beta + max(0.0, arm.pulls - arm.successes),
        )

    def _parameters(self, names: Sequence[str]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        pairs = [self.posterior(name) for name in names]
        return np.array([a for a, _ in pairs]), np.array([b for _, b in pairs])

    def select(self) -> Selection:
        """Draw from every posterior and choose the arm with the largest draw."""
        names = list(self.arms)
        alpha, beta = self._parameters(names)
        draws = self.rng.beta(alpha, beta)
        chosen = names[int(np.argmax(draws))]
        self.arms[chosen].selections += 1
        return Selection(chosen, {n: float(d) for n, d in zip(names, draws, strict=True)})

    def observe(self, decoy: str, reward: float) -> None:
        """Add one observation with REWARD in [0, 1] to an arm."""
        if not 0.0 <= reward <= 1.0:
            raise ValueError(f"a reward is between 0 and 1 (got {reward})")
        arm = self.arms[decoy]
        arm.pulls += 1
        arm.successes += reward

    def retract(self, decoy: str, reward: float) -> None:
        """Remove an earlier observation (when feedback replaces a session's reward)."""
        arm = self.arms[decoy]
        arm.pulls = max(0, arm.pulls - 1)
        arm.successes = max(0.0, arm.successes - reward)

    def probability_best(self, *, samples: int, seed: int) -> dict[str, float]:
        """P(arm has the highest engagement probability), by Monte Carlo from the posteriors.

        Seeded, so the same state always gives the same answer.
        """
        names = list(self.arms)
        alpha, beta = self._parameters(names)
        rng = np.random.default_rng(seed)
        draws = rng.beta(alpha[:, None], beta[:, None], size=(len(names), samples))
        wins = np.bincount(np.argmax(draws, axis=0), minlength=len(names))
        return {name: float(w) / samples for name, w in zip(names, wins, strict=True)}

    def row(self, decoy: str, *, now: float) -> dict[str, Any]:
        """The stored form of an arm."""
        arm = self.arms[decoy]
        alpha, beta = self.posterior(decoy)
        return {
            "decoy": decoy,
            "alpha": alpha,
            "beta": beta,
            "pulls": arm.pulls,
            "successes": arm.successes,
            "selections": arm.selections,
            "updated_at": now,
        }
