"""Settings sections owned by the shadow service."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import timedelta
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from shieldx.platform.settings_types import Duration, Port, Section

_RECORD_FIELDS = ("method", "path", "query", "ip", "country", "asn", "user_agent", "tenant")


def check_sticky_key(value: str) -> str:
    """A sticky key is a scalar record field or "header:<name>"; raise ValueError otherwise."""
    if value in _RECORD_FIELDS:
        return value
    if value.startswith("header:") and 0 < len(value) - 7 <= 256:
        return "header:" + value[7:].lower()
    raise ValueError(
        f"sticky key {value!r} must be one of {', '.join(_RECORD_FIELDS)} or 'header:<name>'"
    )


class ShadowSettings(Section):
    """The shadow service (:5005): ingestion bounds, counter persistence, caches."""

    port: Port = 5005
    # The whole service's request-body limit: a /shadow/traffic batch is the largest body.
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=64 * 1024, le=256 * 1024 * 1024)
    max_batch_records: int = Field(10_000, ge=1, le=1_000_000)
    # Counters live in memory and are written at least this often; a crash loses at most this.
    flush_interval: Duration = timedelta(seconds=1)
    # How soon a process sees routing, test and deployment changes made by another process.
    refresh_interval: Duration = timedelta(seconds=1)
    # 0: every flag evaluation checks the version row first (a kill switch is seen at once).
    flag_max_staleness: Duration = timedelta(0)
    sticky_key: str = "ip"
    ruleset_cache_size: int = Field(256, ge=8, le=100_000)
    max_running_tests: int = Field(10, ge=1, le=100)
    blast_radius_exact_clients: int = Field(10_000, ge=100, le=1_000_000)
    decision_threshold: float = Field(0.95, gt=0.5, lt=1.0)
    # Cost budgets, in the static cost units of docs/shadow.md (one unit is about one closure
    # call, 15-40 ns measured). A rule set's cost is the sum of its rules' bounds; loops over
    # headers are bounded by the record limits (64 headers of 4096 characters).
    max_ruleset_cost: int = Field(2_000_000, ge=10_000, le=1_000_000_000)
    # A /shadow/traffic batch: records x the cost of every rule set its running tests evaluate.
    max_batch_cost: int = Field(1_000_000_000, ge=10_000, le=1_000_000_000_000)
    # Evaluations whose bound is at most this run on the event loop (a few ms at worst);
    # costlier ones run in a pool of evaluation_workers processes, within evaluation_timeout.
    # A huge value evaluates everything inline (no worker processes: the old behaviour).
    inline_cost: int = Field(100_000, ge=0, le=1_000_000_000_000)
    evaluation_workers: int = Field(2, ge=1, le=64)
    evaluation_timeout: Duration = timedelta(seconds=2)

    @field_validator("sticky_key")
    @classmethod
    def _sticky(cls, value: str) -> str:
        return check_sticky_key(value)


class DeploymentSettings(Section):
    """Progressive rule deployment defaults (seed: deployment); a deploy request may override."""

    strategy: Literal["canary", "blue_green", "rolling", "immediate"] = "canary"
    canary_percentage: list[int] = Field(default_factory=lambda: [10, 25, 50, 100])
    # Default duration of every stage (canary steps, blue-green analysis, one rolling gateway).
    canary_duration: Duration = timedelta(minutes=10)
    auto_rollback: bool = True
    # Default max_error_rate gate: share of requests on which a rule failed at run time.
    rollback_threshold: float = Field(0.05, ge=0.0, le=1.0)
    # How often the controller judges running stages.
    health_check_interval: Duration = timedelta(seconds=30)
    # Default blue-green post-promotion window (the switch back stays possible this long).
    traffic_shift_duration: Duration = timedelta(minutes=5)
    min_samples_per_stage: int = Field(100, ge=0, le=10_000_000)
    # After its duration, an inconclusive stage waits this long, then rolls back or pauses.
    max_inconclusive: Duration = timedelta(minutes=10)
    on_inconclusive: Literal["rollback", "pause"] = "rollback"
    gate_confidence: float = Field(0.95, gt=0.5, lt=1.0)

    @model_validator(mode="after")
    def _stages(self) -> Self:
        check_stages(self.canary_percentage)
        if self.health_check_interval.total_seconds() < 0.01:
            raise ValueError("deployment.health_check_interval must be at least 10ms")
        return self


def check_stages(stages: Sequence[float]) -> None:
    """Canary percentages rise strictly, lie in (0, 100] and end at 100; raise ValueError."""
    if not stages or len(stages) > 20:
        raise ValueError("canary stages must list 1 to 20 percentages")
    if any(not 0 < p <= 100 for p in stages):
        raise ValueError(f"canary stages must lie in (0, 100] (got {list(stages)})")
    if any(b <= a for a, b in itertools.pairwise(stages)) or stages[-1] != 100:
        raise ValueError(f"canary stages must rise strictly and end at 100 (got {list(stages)})")
