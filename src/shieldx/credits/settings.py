"""Settings sections owned by the credits ledger."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from shieldx.platform.settings_types import Duration, Port, Section


class WebhookSettings(Section):
    """Delivery of low-balance alerts to the accounts' webhooks (HMAC-SHA256 signed)."""

    timeout: Duration = timedelta(seconds=5)
    max_attempts: int = Field(8, ge=1, le=100)
    backoff: Duration = timedelta(seconds=1)
    max_backoff: Duration = timedelta(minutes=10)
    # Off by default: a tenant could otherwise make the server call its own network.
    allow_private_targets: bool = False


class CreditsSettings(Section):
    """The credits service (:5004): group commit, idempotency, holds, sweeping, alerts."""

    port: Port = 5004
    max_batch: int = Field(1024, ge=1, le=65_536)
    # Group commits run in a child process (its own GIL); false runs them in a thread.
    commit_process: bool = True
    # History and usage are projected inside a group commit at most this often under load.
    projection_interval: Duration = timedelta(milliseconds=50)
    projection_chunk: int = Field(20_000, ge=100, le=10_000_000)
    pipeline_depth: int = Field(2, ge=1, le=8)
    queue_limit: int = Field(100_000, ge=1, le=10_000_000)
    account_cache_size: int = Field(100_000, ge=100, le=10_000_000)
    idempotency_cache_size: int = Field(100_000, ge=100, le=10_000_000)
    commit_retries: int = Field(5, ge=0, le=100)
    idempotency_retention: Duration = timedelta(hours=24)
    sweep_interval: Duration = timedelta(seconds=1)
    max_hold_ttl: Duration = timedelta(days=7)
    max_batch_operations: int = Field(100, ge=1, le=1000)
    max_page_size: int = Field(1000, ge=1, le=100_000)
    read_your_writes_timeout: Duration = timedelta(seconds=2)
    balance_gauge_tenants: int = Field(100, ge=0, le=10_000)
    webhooks: WebhookSettings = WebhookSettings()


class EventSourcingSettings(Section):
    """Event store, snapshots and projections (seed: event_sourcing)."""

    snapshot_interval: int = Field(100, ge=1, le=100_000)
    retention_days: int = Field(90, ge=1, le=36_500)
    event_bus_size: int = Field(1000, ge=1, le=1_000_000)
    worker_count: int = Field(5, ge=1, le=256)


class ShardSettings(Section):
    """One shard of the ledger: a name and its database (a SQLite file under the data dir
    when no url is given)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    url: SecretStr | None = None
    # Streaming replicas' URLs: accepted empty only until read replicas are built.
    replicas: list[SecretStr] = Field(default_factory=list, max_length=0)


class ShardingSettings(Section):
    """Ledger sharding (seed: sharding): accounts spread over shards on a consistent-hash ring.

    One shard (the default) is the unsharded ledger in the main database, untouched.
    """

    num_shards: int = Field(1, ge=1, le=1024)
    virtual_nodes: int = Field(256, ge=1, le=4096)
    # Listed shards (name, url); empty: num_shards SQLite files named shard-0, shard-1, ...
    shards: list[ShardSettings] = Field(default_factory=list)
    # A cross-shard transfer not prepared within this bound is aborted by recovery.
    transfer_timeout: Duration = timedelta(seconds=10)
    recovery_interval: Duration = timedelta(seconds=1)
    replication_factor: int = Field(3, ge=1, le=9)
    consistency_level: Literal["ONE", "QUORUM", "ALL"] = "QUORUM"
    rebalance_enabled: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> ShardingSettings:
        mismatch = self.shards and len(self.shards) != self.num_shards
        if mismatch and "num_shards" in self.model_fields_set:
            raise ValueError(
                f"sharding.num_shards is {self.num_shards} but sharding.shards lists "
                f"{len(self.shards)}: make them agree (or leave num_shards out)"
            )
        names = [s.name for s in self.shards]
        if len(set(names)) != len(names):
            raise ValueError(f"sharding.shards names must be unique (got {names})")
        return self

    def shard_names(self) -> list[str]:
        """The shards' names: the listed ones, or shard-0 … shard-(num_shards - 1)."""
        if self.shards:
            return [s.name for s in self.shards]
        return [f"shard-{i}" for i in range(self.num_shards)]
