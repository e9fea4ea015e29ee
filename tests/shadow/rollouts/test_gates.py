from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shieldx.shadow.rollouts.gates import (
    FleetLimits,
    Gates,
    InstanceReport,
    StageCounts,
    Verdict,
    judge_fleet,
    judge_stage,
)


def counts(
    requests: int = 1000,
    blocks: int = 20,
    baseline: int = 20,
    errors: int = 0,
    benign: int = 0,
    fp: int = 0,
) -> StageCounts:
    return StageCounts(requests, blocks, baseline, errors, benign, fp)


def test_too_little_traffic_is_inconclusive_whatever_the_figures() -> None:
    gates = Gates(max_error_rate=0.01, min_samples_per_stage=500)
    judgement = judge_stage(counts(requests=100, errors=100), gates)
    assert judgement.verdict is Verdict.INCONCLUSIVE
    assert judgement.reason == "100 requests so far, need 500"
    assert (
        judge_stage(counts(requests=0, blocks=0, baseline=0), Gates()).verdict
        is Verdict.INCONCLUSIVE
    )


def test_no_gates_pass_once_there_is_traffic() -> None:
    assert judge_stage(counts(), Gates()).verdict is Verdict.PASS


@given(st.integers(0, 5000), st.floats(0.001, 0.2))
def test_zero_false_positives_uses_the_exact_beta_tail(benign: int, limit: float) -> None:
    judgement = judge_stage(
        counts(requests=max(benign, 1), blocks=0, baseline=0, benign=benign),
        Gates(max_false_positive_rate=limit),
    )
    check = judgement.checks[0]
    if benign == 0:
        assert check.verdict is Verdict.INCONCLUSIVE
        return
    # With no false positive the posterior is Beta(1, (1 - limit) / limit + benign), whose tail has
    # a closed form: P(rate > limit) = (1 - limit) ** ((1 - limit) / limit + benign).
    exact = (1 - limit) ** ((1 - limit) / limit + benign)
    assert check.probability_over_limit == pytest.approx(exact, rel=1e-9, abs=1e-12)
    expected = Verdict.PASS if exact <= 0.05 else Verdict.INCONCLUSIVE
    assert check.verdict is expected


def test_false_positive_gate_fails_when_the_rate_is_surely_above_the_limit() -> None:
    gates = Gates(max_false_positive_rate=0.01)
    failing = judge_stage(counts(benign=800, fp=30), gates)
    assert failing.verdict is Verdict.FAIL
    assert failing.reason.startswith(
        "max_false_positive_rate: false-positive rate 0.0375 (30/800) exceeds the limit 0.01"
    )
    unsure = judge_stage(counts(benign=200, fp=3), gates)
    assert unsure.verdict is Verdict.INCONCLUSIVE
    fine = judge_stage(counts(benign=900, fp=1), gates)
    assert fine.verdict is Verdict.PASS
    assert (
        judge_stage(counts(benign=1), gates).verdict is Verdict.INCONCLUSIVE
    )  # one clean request proves little


def test_a_zero_limit_tolerates_no_false_positive() -> None:
    gates = Gates(max_false_positive_rate=0.0)
    assert judge_stage(counts(benign=10), gates).verdict is Verdict.PASS
    assert judge_stage(counts(requests=10_000, benign=10_000, fp=1), gates).verdict is Verdict.FAIL


def test_thresholds_on_block_rate_increase_and_errors() -> None:
    gates = Gates(max_block_rate_increase=0.02, max_error_rate=0.001)
    assert judge_stage(counts(blocks=40, baseline=20), gates).verdict is Verdict.PASS
    rising = judge_stage(counts(blocks=41, baseline=20), gates)
    assert (
        rising.verdict is Verdict.FAIL
        and rising.reason == "max_block_rate_increase: 0.0210 exceeds the limit 0.02"
    )
    erring = judge_stage(counts(errors=2), gates)
    assert erring.verdict is Verdict.FAIL and erring.reason.startswith("max_error_rate")


def test_a_failure_outranks_an_inconclusive_gate() -> None:
    gates = Gates(max_false_positive_rate=0.01, max_error_rate=0.001)
    judgement = judge_stage(counts(errors=5), gates)  # no labels: the FP gate cannot tell
    assert [c.verdict for c in judgement.checks] == [Verdict.INCONCLUSIVE, Verdict.FAIL]
    assert judgement.verdict is Verdict.FAIL


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_error_rate": 1.5}, "max_error_rate must be between 0 and 1"),
        ({"min_samples_per_stage": -1}, "min_samples_per_stage"),
        ({"confidence": 0.4}, "confidence"),
    ],
)
def test_bad_gates(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Gates(**kwargs)  # type: ignore[arg-type]


def test_inconsistent_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="exceed"):
        StageCounts(10, 11, 0)
    with pytest.raises(ValueError, match="false_positives"):
        StageCounts(10, 1, 0, benign=1, false_positives=2)


def test_instance_gates_need_more_than_half_healthy_and_p95_under_a_second() -> None:
    limits = FleetLimits()
    fresh = InstanceReport("gw-a", 5.0, 0.01, 120.0)
    erring = InstanceReport("gw-b", 5.0, 0.20, 80.0)
    silent = InstanceReport("gw-c", None)
    stale = InstanceReport("gw-d", 61.0, 0.0, 5000.0)  # too old to count, latency included
    assert judge_fleet([], limits) == ()
    health, latency = judge_fleet([fresh, erring], limits)
    assert (health.verdict, health.observed, latency.verdict, latency.observed) == (
        Verdict.FAIL,
        0.5,
        Verdict.PASS,
        120.0,
    )  # exactly half is not more than half
    health, _ = judge_fleet([fresh, fresh, erring], limits)
    assert health.verdict is Verdict.PASS
    health, latency = judge_fleet([fresh, fresh, silent, stale], limits)
    assert (health.verdict, latency.verdict) == (Verdict.FAIL, Verdict.PASS)
    _, slow = judge_fleet([fresh, InstanceReport("gw-e", 1.0, 0.0, 1000.0)], limits)
    assert slow.verdict is Verdict.FAIL and "1000 ms is not under" in slow.detail
    _, unknown = judge_fleet([silent, stale], limits)
    assert unknown.verdict is Verdict.INCONCLUSIVE


def test_a_failing_instance_gate_fails_the_stage_whatever_its_samples() -> None:
    gates = Gates(max_error_rate=0.05, min_samples_per_stage=1000)
    few = StageCounts(requests=3, blocks=0, baseline_blocks=0)
    fleet = judge_fleet([InstanceReport("gw-a", None)], FleetLimits())
    judged = judge_stage(few, gates, fleet)
    assert judged.verdict is Verdict.FAIL and judged.reason.startswith("instance_health:")
    enough = StageCounts(requests=2000, blocks=0, baseline_blocks=0)
    waiting = judge_fleet([InstanceReport("gw-a", 1.0, 0.0, 10.0)], FleetLimits())
    passed = judge_stage(enough, gates, waiting)
    assert passed.verdict is Verdict.PASS
    assert [c.gate for c in passed.checks] == [
        "max_error_rate",
        "instance_health",
        "decision_latency_p95",
    ]
