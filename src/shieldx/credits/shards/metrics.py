"""Prometheus metrics of the sharded ledger: per-shard operations, transfer outcomes, in doubt."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class ShardMetrics:
    """Counters and gauges registered once per app."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.operations = Counter(
            "credits_shard_operations_total",
            "Ledger commands routed to each shard.",
            ["shard"],
            registry=registry,
        )
        self.transfers = Counter(
            "credits_transfers_total",
            "Cross-shard transfers by outcome (committed, aborted).",
            ["outcome"],
            registry=registry,
        )
        self.in_doubt = Gauge(
            "credits_transfers_in_doubt",
            "Cross-shard transfers recorded but not finished (re-driven by recovery).",
            registry=registry,
        )
        self.ring_version = Gauge(
            "credits_ring_version", "Version of the shard map in use.", registry=registry
        )
