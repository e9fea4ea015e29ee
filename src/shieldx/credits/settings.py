"""Settings sections owned by the credits ledger."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field

from shieldx.platform.settings_types import Duration, Port, Section


class CreditsSettings(Section):
    """The credits service (:5004)."""

    port: Port = 5004


class EventSourcingSettings(Section):
    """Event store, snapshots and projections (seed: event_sourcing)."""

    snapshot_interval: int = Field(100, ge=1, le=100_000)
    retention_days: int = Field(90, ge=1, le=36_500)
    event_bus_size: int = Field(1000, ge=1, le=1_000_000)
    worker_count: int = Field(5, ge=1, le=256)


class ShardingSettings(Section):
    """Ledger sharding (seed: sharding)."""

    num_shards: int = Field(8, ge=1, le=1024)
    virtual_nodes: int = Field(256, ge=1, le=4096)
    replication_factor: int = Field(3, ge=1, le=9)
    consistency_level: Literal["ONE", "QUORUM", "ALL"] = "QUORUM"
    rebalance_enabled: bool = True


class DisasterRecoverySettings(Section):
    """Replication and failover targets (seed: disaster_recovery)."""

    rto: Duration = timedelta(minutes=5)
    rpo: Duration = timedelta(minutes=1)
    replication_mode: Literal["sync", "async", "semi_sync"] = "async"
    auto_failover: bool = True
    health_check_interval: Duration = timedelta(seconds=30)
    failover_threshold: int = Field(3, ge=1, le=100)
