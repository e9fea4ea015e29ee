"""Response models of the experiment routes (requests are free-form experiment documents)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shieldx.platform.schemas import RequestModel

Activities = Annotated[list[dict[str, Any]] | None, Field(default=None, max_length=100)]


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


class ExperimentIn(RequestModel):
    """A Chaos Toolkit experiment, or the seed's short form (type, duration, target,
    intensity); the engine checks the parts (docs/chaos.md), this only their shapes."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    multiline_fields = frozenset({"description"})

    version: str | None = Field(default=None, max_length=32)
    title: str | None = Field(default=None, max_length=512)
    description: str | None = Field(default=None, max_length=4096)
    tags: list[str] | None = Field(default=None, max_length=32)
    contributions: dict[str, str] | None = None
    configuration: dict[str, Any] | None = None
    secrets: dict[str, Any] | None = None
    steady_state_hypothesis: dict[str, Any] | None = Field(
        default=None, alias="steady-state-hypothesis"
    )
    method: Activities
    rollbacks: Activities
    extensions: Activities
    type: (
        Literal[
            "service_failure", "high_latency", "resource_exhaustion", "db_slow_query",
            "network_partition", "packet_loss", "cache_failure",
        ]
        | None
    ) = None  # fmt: skip
    duration: str | float | None = None
    target: str | None = Field(default=None, max_length=128)
    intensity: float | None = Field(default=None, ge=0, le=1)

    def document(self) -> dict[str, Any]:
        """The experiment as plain data, with Chaos Toolkit's key names."""
        return self.model_dump(by_alias=True, exclude_none=True)
