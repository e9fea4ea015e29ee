"""Settings section owned by the chaos engine (seed: chaos)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from shieldx.platform.settings_types import Duration, Section


class ProxyRoute(Section):
    """A TCP path ShieldX reaches a dependency through, so faults can be put on it."""

    # host:port the proxy listens on; point the client (e.g. database.url) here.
    listen: str
    # host:port of the real dependency.
    upstream: str

    @field_validator("listen", "upstream")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65_535:
            raise ValueError(f"must be host:port with a port from 0 to 65535 (got {value!r})")
        return value


class ChaosSettings(Section):
    """Fault injection with safety limits (seed: chaos)."""

    enabled: bool = False
    # Where this deployment runs: experiments in production also need production_enabled.
    environment: Literal["development", "staging", "production"] = "development"
    production_enabled: bool = False
    safe_hours: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4, 5, 6, 22, 23])
    max_concurrent: int = Field(2, ge=1, le=100)
    # Error rate (percent of requests) above which a running experiment is halted.
    max_impact_threshold: float = Field(10.0, ge=0.0, le=100.0)
    # p99 request latency above which a running experiment is halted.
    max_p99: Duration = timedelta(seconds=2)
    auto_rollback: bool = True
    # Every experiment_interval the next experiment of `schedule` is started (round robin),
    # under the same safety rules as one started through the API; nothing runs on a schedule
    # while `schedule` is empty.
    experiment_interval: Duration = timedelta(minutes=5)
    # Experiment files (Chaos Toolkit JSON or the seed's short form) to run on the schedule.
    schedule: list[Path] = Field(default_factory=list)
    # No fault outlives this, whatever an experiment asks (the dead-man switch).
    max_fault_ttl: Duration = timedelta(minutes=10)
    proxies: dict[str, ProxyRoute] = Field(default_factory=dict)

    @field_validator("safe_hours")
    @classmethod
    def _hours(cls, value: list[int]) -> list[int]:
        bad = [h for h in value if not 0 <= h <= 23]
        if bad:
            raise ValueError(f"hours must be between 0 and 23 (got {bad})")
        return value
