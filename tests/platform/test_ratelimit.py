"""Token buckets."""

from __future__ import annotations

from shieldx.platform.ratelimit import RateLimiter, retry_after_header


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refill_at_rate() -> None:
    clock = _Clock()
    limiter = RateLimiter(rate=2.0, burst=3, clock=clock)
    assert [limiter.check("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.check("k")
    assert wait == 0.5
    clock.now += 0.5
    assert limiter.check("k") == 0.0
    assert limiter.check("k") > 0


def test_keys_are_independent_and_bounded() -> None:
    clock = _Clock()
    limiter = RateLimiter(rate=1.0, burst=1, max_buckets=100, clock=clock)
    assert limiter.check("a") == 0.0
    assert limiter.check("a") > 0
    assert limiter.check("b") == 0.0
    for i in range(1000):
        limiter.check(f"flood-{i}")
    assert len(limiter._buckets) == 100


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert retry_after_header(0.01) == "1"
    assert retry_after_header(1.2) == "2"
