"""Settings section owned by the disaster-recovery engine (seed: disaster_recovery)."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator, model_validator

from shieldx.platform.settings_types import Duration, Section


class RegionSettings(Section):
    """One region: a Patroni member (or cluster) reachable at HOSTS, its REST API at PATRONI."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    provider: str = Field("self-hosted", max_length=64)
    # host:port of the region's PostgreSQL server(s).
    hosts: list[str] = Field(min_length=1)
    # Base URL of the region's Patroni REST API (http://host:8008); failover goes through it.
    patroni: str | None = None
    # Lower is preferred: failover picks the healthy standby region with the lowest number,
    # failback returns to the region with the lowest number.
    priority: int = Field(100, ge=0, le=10_000)

    @field_validator("hosts")
    @classmethod
    def _host_port(cls, value: list[str]) -> list[str]:
        for item in value:
            host, sep, port = item.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) <= 65_535:
                raise ValueError(f"each host must be host:port (got {item!r})")
        return value

    @field_validator("patroni")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"patroni must be an http(s) URL (got {value!r})")
        return value


class DisasterRecoverySettings(Section):
    """Regions, replication mode, health checks and failover (seed: disaster_recovery)."""

    # Targets the drills are judged against (`shieldx dr drill` prints rto_met / rpo_met).
    rto: Duration = timedelta(minutes=5)
    rpo: Duration = timedelta(minutes=1)
    # sync: acknowledged when the standby region flushed it (RPO 0); semi_sync: when the
    # standby region received it; async: when written locally. Applied to Patroni's dynamic
    # configuration when the engine starts.
    replication_mode: Literal["sync", "async", "semi_sync"] = "async"
    auto_failover: bool = True
    health_check_interval: Duration = timedelta(seconds=30)
    failover_threshold: int = Field(3, ge=1, le=100)
    regions: list[RegionSettings] = Field(default_factory=list)
    # The etcd Patroni keeps its leader key in (http://host:2379) and the Patroni scope: with
    # both set, ShieldX connects to the leader the key names and acknowledges a credits write
    # only after the key still names the server it committed on (the write fence).
    etcd: str | None = None
    scope: str = Field("shieldx-dr", min_length=1, max_length=128)

    @model_validator(mode="after")
    def _unique_regions(self) -> DisasterRecoverySettings:
        names = [r.name for r in self.regions]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(
                f"disaster_recovery.regions names must be unique (repeated: {duplicates})"
            )
        return self
