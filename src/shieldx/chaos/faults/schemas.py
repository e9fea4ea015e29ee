"""Response models of the fault routes (requests are fault specifications, see domain.py)."""

from __future__ import annotations

from pydantic import BaseModel


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
