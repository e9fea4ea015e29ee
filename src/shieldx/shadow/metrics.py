"""The shadow service's Prometheus metrics; every label set is bounded.

`test` labels exist only for running tests (at most shadow.max_running_tests per tenant)
and are removed when a test ends; actions, modes, strategies, statuses and triggers are
fixed enumerations.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from shieldx.shadow.rollouts.domain import Status, Strategy
from shieldx.shadow.rules.domain import Action

_EVALUATION_BUCKETS = (
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05,
)  # fmt: skip
_DEPLOYMENT_BUCKETS = (1, 10, 60, 300, 900, 1800, 3600, 7200, 21600, 86400)


class ShadowMetrics:
    """Counters, gauges and histograms registered on the service's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.ab_tests = Counter(
            "shadow_ab_tests",
            "A/B tests created, decided and stopped",
            ["event"],
            registry=registry,
        )
        self.variant_traffic = Gauge(
            "shadow_variant_traffic_percentage",
            "Observed share of a running test's traffic assigned to each variant (percent)",
            ["test", "variant"],
            registry=registry,
        )
        self.evaluation = Histogram(
            "shadow_evaluation_duration_seconds",
            "Time to evaluate one request against every rule set that applies to it",
            ["source"],
            buckets=_EVALUATION_BUCKETS,
            registry=registry,
        )
        self.decisions = Counter(
            "shadow_decisions",
            "Decisions by action: enforced at /shadow/decide, or evaluated in shadow",
            ["action", "mode"],
            registry=registry,
        )
        self.deployment_status = Gauge(
            "deployment_status",
            "Deployments per strategy and status",
            ["strategy", "status"],
            registry=registry,
        )
        self.deployment_duration = Histogram(
            "deployment_duration_seconds",
            "Time from the start of a deployment to its end, by outcome",
            ["strategy", "status"],
            buckets=_DEPLOYMENT_BUCKETS,
            registry=registry,
        )
        self.rollbacks = Counter(
            "deployment_rollback",
            "Rollbacks to the previous rule set version",
            ["strategy", "trigger"],
            registry=registry,
        )
        self.enforced = {a: self.decisions.labels(action=a.value, mode="enforced") for a in Action}
        self.shadowed = {a: self.decisions.labels(action=a.value, mode="shadow") for a in Action}
        self.decide_seconds = self.evaluation.labels(source="decide")
        self.traffic_seconds = self.evaluation.labels(source="traffic")
        self._tests_shown: set[str] = set()

    def set_deployment_counts(self, counts: dict[tuple[str, str], int]) -> None:
        """Publish how many deployments are in each (strategy, status)."""
        for strategy in Strategy:
            for status in Status:
                value = counts.get((strategy.value, status.value), 0)
                self.deployment_status.labels(strategy=strategy.value, status=status.value).set(
                    value
                )

    def set_variant_shares(self, test_id: str, control_n: int, candidate_n: int) -> None:
        """Publish a running test's observed assignment shares."""
        total = control_n + candidate_n
        if not total:
            return
        self._tests_shown.add(test_id)
        self.variant_traffic.labels(test=test_id, variant="control").set(100.0 * control_n / total)
        self.variant_traffic.labels(test=test_id, variant="candidate").set(
            100.0 * candidate_n / total
        )

    def keep_tests(self, running: Iterable[str]) -> None:
        """Drop the gauges of tests that are no longer running."""
        keep = set(running)
        for test_id in self._tests_shown - keep:
            for variant in ("control", "candidate"):
                self.variant_traffic.remove(test_id, variant)
        self._tests_shown &= keep
