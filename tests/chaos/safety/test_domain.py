"""The safety rules: admission and halt conditions."""

from __future__ import annotations

from shieldx.chaos.safety.domain import MIN_REQUESTS, Observation, SafetyPolicy

POLICY = SafetyPolicy(
    enabled=True,
    production=False,
    production_enabled=False,
    safe_hours=frozenset({2, 3}),
    max_concurrent=1,
    max_error_rate=10.0,
    max_p99_ms=500.0,
)


def test_admitted_inside_safe_hours_when_enabled() -> None:
    assert POLICY.refusals(hour=2, running=0) == []


def test_every_refusal_says_what_to_change() -> None:
    policy = SafetyPolicy(
        enabled=False,
        production=True,
        production_enabled=False,
        safe_hours=frozenset({2}),
        max_concurrent=1,
        max_error_rate=10,
        max_p99_ms=500,
    )
    reasons = policy.refusals(hour=14, running=1)
    assert len(reasons) == 4
    assert "chaos.enabled" in reasons[0]
    assert "chaos.production_enabled" in reasons[1]
    assert "14" in reasons[2] and "chaos.safe_hours (2)" in reasons[2]
    assert "chaos.max_concurrent" in reasons[3]


def test_error_rate_and_p99_above_the_limits_are_violations() -> None:
    seen = Observation.of([0.001] * 90 + [0.9] * 10, failed=20)
    kinds = {v.kind: v for v in POLICY.violations(seen)}
    assert set(kinds) == {"error_rate", "p99_latency"}
    assert kinds["error_rate"].observed == 20.0
    assert kinds["p99_latency"].observed == 900.0


def test_too_few_requests_say_nothing() -> None:
    seen = Observation.of([1.0] * (MIN_REQUESTS - 1), failed=MIN_REQUESTS - 1)
    assert POLICY.violations(seen) == []


def test_an_experiment_may_only_tighten_the_limits() -> None:
    tighter = POLICY.tightened(max_error_rate=50.0, max_p99_ms=100.0)
    assert (tighter.max_error_rate, tighter.max_p99_ms) == (10.0, 100.0)
