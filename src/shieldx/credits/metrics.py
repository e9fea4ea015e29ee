"""The credits service's Prometheus series (bounded label sets only)."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from shieldx.platform.metrics import LATENCY_BUCKETS

OTHER_TENANTS = "_other"
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)


class CreditsMetrics:
    """Operations by op and result, latency, batch sizes, queue depth, balances, alerts."""

    def __init__(self, registry: CollectorRegistry, *, gauge_tenants: int) -> None:
        self.operations = Counter(
            "credits_operations_total",
            "Ledger operations by operation and result (ok, replayed, refused, error, unavailable).",
            ["op", "result"],
            registry=registry,
        )
        self.duration = Histogram(
            "credits_transaction_duration_seconds",
            "Time from a request reaching the service layer to its committed answer.",
            ["op"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.balance = Gauge(
            "credits_balance_gauge",
            "Sum over a tenant's accounts (the largest tenants by name; the rest as _other).",
            ["tenant", "measure"],
            registry=registry,
        )
        self.batch_size = Histogram(
            "credits_batch_size",
            "Commands per group commit.",
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self.queue_depth = Gauge(
            "credits_queue_depth", "Commands waiting for the writer.", registry=registry
        )
        self.alerts = Counter(
            "credits_alerts_total", "Low-balance alerts raised.", registry=registry
        )
        self.deliveries = Counter(
            "credits_webhook_deliveries_total",
            "Webhook delivery attempts by result (delivered, retry, failed).",
            ["result"],
            registry=registry,
        )
        self.writer_up = Gauge(
            "credits_writer_up",
            "1 while the credits writer and its commit process run, 0 while they restart.",
            registry=registry,
        )
        self.writer_restarts = Counter(
            "credits_writer_restarts_total",
            "Crashes of the credits writer loop or its commit process (each restarted).",
            registry=registry,
        )
        self.projection_lag = Gauge(
            "credits_projection_lag_events",
            "Events committed but not yet in the history and usage read models.",
            registry=registry,
        )
        self.audit_verifications = Counter(
            "credits_audit_verifications_total",
            "Hash-chain verifications (POST /credits/audit/verify) by result: ok or broken.",
            ["result"],
            registry=registry,
        )
        self.audit_chain_broken = Gauge(
            "credits_audit_chain_broken",
            "1 once a verification of this process found a bad event, 0 after a clean one.",
            registry=registry,
        )
        self.gauge_tenants = gauge_tenants
        self._shown: set[tuple[str, str]] = set()
        self._children: dict[tuple[str, str], tuple[Counter, Histogram]] = {}

    def writer_state(self, up: bool) -> None:
        """The writer went up (True) or down (False): the gauge, and a restart counted."""
        self.writer_up.set(1 if up else 0)
        if not up:
            self.writer_restarts.inc()

    def observe(self, op: str, result: str, seconds: float) -> None:
        """Count one operation (children cached: this is the hot path)."""
        key = (op, result)
        children = self._children.get(key)
        if children is None:
            children = (self.operations.labels(op, result), self.duration.labels(op))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def set_balances(self, totals: Iterable[tuple[str, int, int]]) -> None:
        """Per-tenant (balance, held) sums; beyond gauge_tenants, tenants are summed as _other."""
        shown: dict[tuple[str, str], int] = {}
        rows = sorted(totals, key=lambda r: -r[1])
        for index, (tenant, balance, held) in enumerate(rows):
            name = tenant if index < self.gauge_tenants else OTHER_TENANTS
            for measure, value in (("balance", balance), ("held", held)):
                shown[(name, measure)] = shown.get((name, measure), 0) + value
        for labels in self._shown - shown.keys():
            self.balance.remove(*labels)
        for labels, value in shown.items():
            self.balance.labels(*labels).set(value)
        self._shown = set(shown)
