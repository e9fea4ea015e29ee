"""Response models of the experiment routes (requests are free-form experiment documents)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ViolationOut(BaseModel):
    """One breached safety limit."""

    kind: str
    observed: float
    limit: float
    message: str


class ExperimentStatus(BaseModel):
    """Where an experiment stands, and its figures once it ended."""

    id: str
    title: str
    type: str
    status: str
    rolled_back: bool
    rollback_s: float | None
    recovery_s: float | None
    error_rate: float
    p99_ms: float
    requests: int
    failed_requests: int
    violations: list[ViolationOut]
    probes: list[dict[str, Any]]
    error: str | None


class ExperimentSummary(BaseModel):
    """One line of the experiment list."""

    id: str
    title: str
    type: str
    status: str
    started_at: str
    rolled_back: bool
