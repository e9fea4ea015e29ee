"""Response models of the fault routes (requests are fault specifications, see domain.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shieldx.platform.schemas import RequestModel


class FaultOut(BaseModel):
    """A live fault."""

    id: str
    kind: str
    target: str
    path: str
    params: dict[str, float]
    owner: str | None
    expires_in_s: float


class FaultsOut(BaseModel):
    """The live faults and what requests looked like over the last 10 s."""

    faults: list[FaultOut]
    requests: int
    error_rate: float
    p99_ms: float


Kind = Literal[
    "latency", "loss", "bandwidth", "reset", "blackhole", "http_delay", "http_abort",
    "kill", "stop", "cpu", "memory",
]  # fmt: skip
Number = Annotated[float | None, Field(default=None, ge=0, le=10_000_000)]


class FaultIn(RequestModel):
    """One fault to inject; which parameters apply depends on the kind (docs/chaos.md)."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind
    target: str = Field(default="", max_length=128, description="A proxy name, or a process.")
    ttl_s: float = Field(default=30, gt=0, le=86_400, description="Seconds until it expires.")
    path: str = Field(default="/", max_length=512, description="HTTP faults: a path prefix.")
    latency_ms: Number
    jitter_ms: Number
    percent: Number
    retransmit_ms: Number
    kbps: Number
    delay_ms: Number
    status: Number
    pid: Number
    workers: Number
    megabytes: Number

    def spec(self) -> dict[str, Any]:
        """The plain data parse_fault checks against the kind."""
        return self.model_dump(exclude_none=True)
