"""The deployment state machine, pure: plans per strategy and the controller's next move."""

from __future__ import annotations

from typing import Literal, TypedDict, Unpack

import pytest

from shieldx.shadow.rollouts.domain import (
    Move,
    Phase,
    Policy,
    Stage,
    Strategy,
    Switch,
    next_step,
    plan_stages,
)
from shieldx.shadow.rollouts.gates import Gates, StageCounts

GATES = Gates(max_error_rate=0.05, max_block_rate_increase=0.02, min_samples_per_stage=100)
STAGE = Stage(Phase.CANARY, 10.0, 60.0)
CLEAN = StageCounts(requests=200, blocks=10, baseline_blocks=10, errors=0)
ERRORS = StageCounts(requests=200, blocks=10, baseline_blocks=10, errors=40)
THIN = StageCounts(requests=20, blocks=1, baseline_blocks=1)


class PolicyChanges(TypedDict, total=False):
    auto_rollback: bool
    max_inconclusive_s: float
    on_inconclusive: Literal["rollback", "pause"]


def step(
    counts: StageCounts, elapsed: float, *, last: bool = False, **policy: Unpack[PolicyChanges]
) -> Move:
    return next_step(
        STAGE, last=last, policy=Policy(GATES, **policy), counts=counts, elapsed_s=elapsed
    ).move


def test_plans_follow_the_strategy() -> None:
    canary = plan_stages(Strategy.CANARY, percentages=(10, 50, 100), stage_duration_s=30)
    assert [(s.phase, s.percentage, s.duration_s) for s in canary] == [
        (Phase.CANARY, 10, 30),
        (Phase.CANARY, 50, 30),
        (Phase.CANARY, 100, 30),
    ]
    blue_green = plan_stages(
        Strategy.BLUE_GREEN,
        stage_duration_s=30,
        post_promotion_window_s=120,
        switch=Switch.ATOMIC,
    )
    assert [(s.phase, s.percentage, s.shadow_all) for s in blue_green] == [
        (Phase.ANALYSIS, 0, True),
        (Phase.POST_PROMOTION, 100, False),
    ]
    atomic_now = plan_stages(Strategy.BLUE_GREEN, post_promotion_window_s=0, switch=Switch.ATOMIC)
    assert len(atomic_now) == 1
    gradual = plan_stages(Strategy.BLUE_GREEN, stage_duration_s=30, post_promotion_window_s=120)
    assert [(s.phase, s.percentage, s.duration_s) for s in gradual] == [
        (Phase.ANALYSIS, 0, 30),
        *((Phase.SWITCH, 10.0 * (i + 1), 12.0) for i in range(10)),
    ]
    rolling = plan_stages(Strategy.ROLLING, gateways=["gw-a", "gw-b", "gw-c"])
    assert [s.gateways for s in rolling] == [("gw-a",), ("gw-a", "gw-b"), ("gw-a", "gw-b", "gw-c")]
    assert rolling[-1].percentage == 100
    with pytest.raises(ValueError, match="gateway"):
        plan_stages(Strategy.ROLLING)
    assert plan_stages(Strategy.IMMEDIATE) == (Stage(Phase.IMMEDIATE, 100.0, 0.0),)
    assert [Stage.from_dict(s.as_dict()) for s in rolling] == list(rolling)


def test_a_failing_gate_rolls_back_at_once_even_inside_the_window() -> None:
    assert step(ERRORS, elapsed=1) is Move.ROLLBACK
    assert step(ERRORS, elapsed=1, auto_rollback=False) is Move.PAUSE


def test_passing_stages_wait_for_their_window_then_advance_or_complete() -> None:
    assert step(CLEAN, elapsed=59.9) is Move.WAIT
    assert step(CLEAN, elapsed=60) is Move.ADVANCE
    assert step(CLEAN, elapsed=60, last=True) is Move.COMPLETE


def test_inconclusive_stages_wait_up_to_the_limit_then_roll_back_or_pause() -> None:
    assert step(THIN, elapsed=60 + 299, max_inconclusive_s=300) is Move.WAIT
    assert step(THIN, elapsed=60 + 300, max_inconclusive_s=300) is Move.ROLLBACK
    assert step(THIN, elapsed=400, max_inconclusive_s=300, on_inconclusive="pause") is Move.PAUSE
    assert step(THIN, elapsed=400, max_inconclusive_s=300, auto_rollback=False) is Move.PAUSE


def test_a_zero_duration_stage_is_driven_by_its_sample_count() -> None:
    stage = Stage(Phase.CANARY, 25.0, 0.0)
    policy = Policy(GATES, max_inconclusive_s=3600)
    assert next_step(stage, last=False, policy=policy, counts=THIN, elapsed_s=5).move is Move.WAIT
    assert (
        next_step(stage, last=False, policy=policy, counts=CLEAN, elapsed_s=5).move is Move.ADVANCE
    )
