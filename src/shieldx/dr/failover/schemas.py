"""Request and response bodies of the /dr routes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class FailoverIn(BaseModel):
    """POST /dr/failover: the region to move the primary role to (default: the best standby)."""

    model_config = ConfigDict(extra="forbid")
    to: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")


class Step(BaseModel):
    """One of the six steps, with when it was reached and how long it took."""

    name: str
    at: str
    duration_s: float
    detail: str = ""


class FailoverOut(BaseModel):
    """A failover or failback that ran."""

    id: str
    kind: str
    from_region: str
    to_region: str | None
    status: str
    rto_s: float | None = None
    steps: list[Step]


class StatusOut(BaseModel):
    """GET /dr/status."""

    replication_mode: str
    auto_failover: bool
    failover_threshold: int
    health_check_interval_s: float
    rto_target_s: float
    rpo_target_s: float
    primary: str | None
    regions: list[dict[str, Any]]
    history: list[dict[str, Any]]
