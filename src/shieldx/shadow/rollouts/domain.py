"""Progressive deployment, pure: the stages of each strategy and the controller's next move.

A plan is a list of stages; each says which share of traffic the new version enforces,
how long the stage lasts at least, and (rolling) which gateways run the new version.

- canary: one stage per percentage (say 10, 25, 50, 100) of sticky units;
- blue_green: an analysis stage (0 % enforced, the new version in shadow on all traffic),
  then the switch. Gradual (the default, as the seed does it): ten switch stages of 10 %,
  20 %, ... 100 %, each a tenth of the post-promotion window and judged by the gates before
  the next, the old version still serving the rest (and everyone again on a rollback).
  Atomic: straight to 100 % and, when the window is not zero, a post-promotion stage during
  which a failing gate switches back;
- rolling: one stage per registered gateway, each moving one more gateway;
- immediate: a single 100 % stage, completed at once, no gates.

next_step() judges the current stage's counts with gates.judge_stage:

- FAIL, at any time: roll back at once (pause instead when auto_rollback is off);
- before the stage's duration has passed: wait (the stage needs its full window);
- PASS after the duration: advance, or complete after the last stage;
- INCONCLUSIVE after the duration: wait up to max_inconclusive more, then roll back or
  pause as on_inconclusive says (pause when auto_rollback is off).

A duration of 0 makes a stage advance as soon as its gates pass on enough samples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Literal

from shieldx.shadow.rollouts.gates import (
    GateCheck,
    Gates,
    Judgement,
    StageCounts,
    Verdict,
    judge_stage,
)


class Strategy(StrEnum):
    """How a new rule set version reaches traffic."""

    CANARY = "canary"
    BLUE_GREEN = "blue_green"
    ROLLING = "rolling"
    IMMEDIATE = "immediate"


class Status(StrEnum):
    """Where a deployment stands."""

    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    ROLLED_BACK = "rolled_back"
    ABORTED = "aborted"

    @property
    def terminal(self) -> bool:
        """True once nothing can change any more."""
        return self in (Status.COMPLETED, Status.ROLLED_BACK, Status.ABORTED)


class Phase(StrEnum):
    """What a stage does."""

    CANARY = "canary"
    ANALYSIS = "analysis"
    POST_PROMOTION = "post_promotion"
    GATEWAY = "gateway"
    IMMEDIATE = "immediate"
    SWITCH = "switch"


class Switch(StrEnum):
    """How a blue-green deployment moves traffic after its analysis."""

    ATOMIC = "atomic"
    GRADUAL = "gradual"


# The seed's gradual blue-green switch: ten steps with validation between them.
SWITCH_STEPS = 10


@dataclass(frozen=True, slots=True)
class Stage:
    """One step of a plan."""

    phase: Phase
    percentage: float
    duration_s: float
    gateways: tuple[str, ...] = ()

    @property
    def shadow_all(self) -> bool:
        """True when the new version runs in shadow on all traffic (blue-green analysis)."""
        return self.phase is Phase.ANALYSIS

    def as_dict(self) -> dict[str, Any]:
        """Plain data for storage and the API."""
        return {
            "phase": self.phase.value,
            "percentage": self.percentage,
            "duration_s": self.duration_s,
            "gateways": list(self.gateways),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Stage:
        """The inverse of as_dict."""
        return cls(
            Phase(data["phase"]),
            float(data["percentage"]),
            float(data["duration_s"]),
            tuple(data.get("gateways", ())),
        )


@dataclass(frozen=True, slots=True)
class Policy:
    """The gates and what to do when they fail or stay inconclusive."""

    gates: Gates
    auto_rollback: bool = True
    max_inconclusive_s: float = 600.0
    on_inconclusive: Literal["rollback", "pause"] = "rollback"

    def as_dict(self) -> dict[str, Any]:
        """Plain data for storage and the API."""
        return {
            "gates": asdict(self.gates),
            "auto_rollback": self.auto_rollback,
            "max_inconclusive_s": self.max_inconclusive_s,
            "on_inconclusive": self.on_inconclusive,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Policy:
        """The inverse of as_dict."""
        return cls(
            Gates(**data["gates"]),
            bool(data["auto_rollback"]),
            float(data["max_inconclusive_s"]),
            data["on_inconclusive"],
        )


def plan_stages(
    strategy: Strategy,
    *,
    percentages: Sequence[float] = (10, 25, 50, 100),
    stage_duration_s: float = 600.0,
    post_promotion_window_s: float = 300.0,
    gateways: Sequence[str] = (),
    switch: Switch = Switch.GRADUAL,
) -> tuple[Stage, ...]:
    """The stages of a deployment (see the module docstring)."""
    if strategy is Strategy.CANARY:
        return tuple(Stage(Phase.CANARY, float(p), stage_duration_s) for p in percentages)
    if strategy is Strategy.BLUE_GREEN:
        analysis = Stage(Phase.ANALYSIS, 0.0, stage_duration_s)
        if switch is Switch.GRADUAL:
            step_s = post_promotion_window_s / SWITCH_STEPS
            steps = (100.0 * (i + 1) / SWITCH_STEPS for i in range(SWITCH_STEPS))
            return analysis, *(Stage(Phase.SWITCH, p, step_s) for p in steps)
        if post_promotion_window_s <= 0:
            return (analysis,)
        return analysis, Stage(Phase.POST_PROMOTION, 100.0, post_promotion_window_s)
    if strategy is Strategy.ROLLING:
        if not gateways:
            raise ValueError("a rolling deployment needs at least one registered gateway")
        count = len(gateways)
        return tuple(
            Stage(
                Phase.GATEWAY, 100.0 * (i + 1) / count, stage_duration_s, tuple(gateways[: i + 1])
            )
            for i in range(count)
        )
    return (Stage(Phase.IMMEDIATE, 100.0, 0.0),)


class Move(StrEnum):
    """What the controller does next."""

    WAIT = "wait"
    ADVANCE = "advance"
    COMPLETE = "complete"
    ROLLBACK = "rollback"
    PAUSE = "pause"
    RESUME = "resume"


@dataclass(frozen=True, slots=True)
class Step:
    """The controller's decision with the judgement behind it."""

    move: Move
    judgement: Judgement
    reason: str


def next_step(
    stage: Stage,
    *,
    last: bool,
    policy: Policy,
    counts: StageCounts,
    elapsed_s: float,
    fleet: Sequence[GateCheck] = (),
) -> Step:
    """Judge the current stage (rules in the module docstring; FLEET: the instance gates)."""
    judgement = judge_stage(counts, policy.gates, fleet)
    if judgement.verdict is Verdict.FAIL:
        move = Move.ROLLBACK if policy.auto_rollback else Move.PAUSE
        return Step(move, judgement, f"gate failed: {judgement.reason}")
    if elapsed_s < stage.duration_s:
        return Step(
            Move.WAIT, judgement, f"stage window open ({elapsed_s:.1f}s of {stage.duration_s:g}s)"
        )
    if judgement.verdict is Verdict.PASS:
        return Step(Move.COMPLETE if last else Move.ADVANCE, judgement, judgement.reason)
    limit = stage.duration_s + policy.max_inconclusive_s
    if elapsed_s < limit:
        return Step(
            Move.WAIT, judgement, f"inconclusive, waiting up to {limit:g}s: {judgement.reason}"
        )
    rollback = policy.on_inconclusive == "rollback" and policy.auto_rollback
    reason = f"still inconclusive after {limit:g}s: {judgement.reason}"
    return Step(Move.ROLLBACK if rollback else Move.PAUSE, judgement, reason)
