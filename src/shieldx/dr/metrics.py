"""Prometheus metrics of the disaster-recovery engine."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class DrMetrics:
    """failover_events_total, replication lag (seconds and bytes), region health score."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.failovers = Counter(
            "failover_events",
            "Failovers and failbacks, by kind and outcome.",
            ["kind", "status"],
            registry=registry,
        )
        self.lag_seconds = Gauge(
            "replication_lag_seconds",
            "Replay lag of a standby region at its last health check.",
            ["region"],
            registry=registry,
        )
        self.lag_bytes = Gauge(
            "replication_lag_bytes",
            "WAL bytes a standby region is behind its primary at its last health check.",
            ["region"],
            registry=registry,
        )
        self.health = Gauge(
            "region_health_score",
            "Health of a region from 0.0 (down) to 1.0 at its last check.",
            ["region"],
            registry=registry,
        )
