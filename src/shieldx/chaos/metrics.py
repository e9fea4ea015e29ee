"""The chaos engine's Prometheus series."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

RECOVERY_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120)


class ChaosMetrics:
    """Experiments by fault type and outcome, safety violations, recovery time."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.experiments = Counter(
            "chaos_experiments_total",
            "Experiments that ended, by fault type and status.",
            ["type", "status"],
            registry=registry,
        )
        self.violations = Counter(
            "chaos_safety_violations_total",
            "Safety limits breached while faults were applied.",
            ["kind"],
            registry=registry,
        )
        self.recovery = Histogram(
            "chaos_recovery_time_seconds",
            "From rollback until the steady state held again.",
            buckets=RECOVERY_BUCKETS,
            registry=registry,
        )
        self.rollback = Histogram(
            "chaos_rollback_time_seconds",
            "Time to remove every fault of an experiment.",
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5),
            registry=registry,
        )
