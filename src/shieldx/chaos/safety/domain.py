"""The safety rules, pure: when an experiment may start, and when faults must be rolled back.

Admission (all must hold): chaos.enabled; not production unless production_enabled; the
current hour is one of safe_hours; fewer than max_concurrent experiments running.
Halt (any one breaks it): the error rate (5xx share of requests, percent) above
max_impact_threshold; p99 latency above max_p99. Fewer than MIN_REQUESTS requests say
nothing yet, so an idle service is never halted on one unlucky request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MIN_REQUESTS = 10


@dataclass(frozen=True)
class Observation:
    """Requests seen over a window: counts and latency figures (milliseconds)."""

    total: int = 0
    failed: int = 0
    avg_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0

    @property
    def error_rate(self) -> float:
        """Failed requests as a percentage of all (0 when there were none)."""
        return 100.0 * self.failed / self.total if self.total else 0.0

    @classmethod
    def of(cls, sorted_seconds: Sequence[float], failed: int) -> Observation:
        """Figures from request durations in seconds, sorted ascending."""
        n = len(sorted_seconds)
        if n == 0:
            return cls()

        def pct(q: float) -> float:
            return sorted_seconds[min(n - 1, int(q * n))] * 1000

        return cls(
            total=n,
            failed=failed,
            avg_ms=sum(sorted_seconds) / n * 1000,
            p95_ms=pct(0.95),
            p99_ms=pct(0.99),
        )


@dataclass(frozen=True)
class Violation:
    """One safety limit breached: which, what was seen, the limit, in words."""

    kind: str
    observed: float
    limit: float
    message: str


@dataclass(frozen=True)
class SafetyPolicy:
    """The limits from the chaos settings (an experiment may only tighten them)."""

    enabled: bool
    production: bool
    production_enabled: bool
    safe_hours: frozenset[int]
    max_concurrent: int
    max_error_rate: float
    max_p99_ms: float

    def tightened(self, *, max_error_rate: float | None, max_p99_ms: float | None) -> SafetyPolicy:
        """This policy with an experiment's own limits where they are stricter."""
        return SafetyPolicy(
            enabled=self.enabled,
            production=self.production,
            production_enabled=self.production_enabled,
            safe_hours=self.safe_hours,
            max_concurrent=self.max_concurrent,
            max_error_rate=min(self.max_error_rate, max_error_rate)
            if max_error_rate is not None
            else self.max_error_rate,
            max_p99_ms=min(self.max_p99_ms, max_p99_ms)
            if max_p99_ms is not None
            else self.max_p99_ms,
        )

    def refusals(self, *, hour: int, running: int) -> list[str]:
        """Why an experiment may not start now (empty: it may), each saying how to fix it."""
        reasons = []
        if not self.enabled:
            reasons.append("chaos engineering is off: set chaos.enabled to true")
        if self.production and not self.production_enabled:
            reasons.append(
                "this is a production deployment (chaos.environment): set "
                "chaos.production_enabled to true to allow experiments here"
            )
        if hour not in self.safe_hours:
            hours = ", ".join(str(h) for h in sorted(self.safe_hours)) or "none"
            reasons.append(
                f"the hour is {hour:02d} (UTC), outside chaos.safe_hours ({hours}); "
                "wait or add the hour"
            )
        if running >= self.max_concurrent:
            reasons.append(
                f"{running} experiment(s) already running (chaos.max_concurrent is "
                f"{self.max_concurrent}); wait for one to end or abort it"
            )
        return reasons

    def violations(self, seen: Observation) -> list[Violation]:
        """The halt conditions SEEN breaks (empty: carry on)."""
        if seen.total < MIN_REQUESTS:
            return []
        found = []
        if seen.error_rate > self.max_error_rate:
            found.append(
                Violation(
                    "error_rate",
                    seen.error_rate,
                    self.max_error_rate,
                    f"error rate {seen.error_rate:.1f}% over {seen.total} requests is above "
                    f"the limit of {self.max_error_rate:g}%",
                )
            )
        if seen.p99_ms > self.max_p99_ms:
            found.append(
                Violation(
                    "p99_latency",
                    seen.p99_ms,
                    self.max_p99_ms,
                    f"p99 latency {seen.p99_ms:.0f} ms is above the limit of "
                    f"{self.max_p99_ms:g} ms",
                )
            )
        return found
