"""Request and response models of the assessment routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shieldx.platform.schemas import RequestModel


class EvidenceRef(BaseModel):
    """The evidence one check gathered for a control."""

    check: str
    status: Literal["compliant", "non_compliant", "not_applicable"]
    seq: int = Field(description="Position in the evidence chain.")
    sha256: str = Field(description="SHA-256 of the canonical evidence record.")
    summary: str
    data: dict[str, Any]


class ControlOut(BaseModel):
    """One control's verdict."""

    id: str
    title: str
    status: Literal["compliant", "non_compliant", "not_applicable"]
    score: float
    severity: str | None = Field(description="The finding's severity when non-compliant.")
    recommendation: str
    evidence: list[EvidenceRef]


class FrameworkOut(BaseModel):
    """One framework's score and controls."""

    title: str
    version: str
    score: float = Field(description="100 x compliant controls / applicable controls.")
    controls: list[ControlOut]


class AssessmentOut(BaseModel):
    """An assessment: overall score and each framework."""

    id: str
    created_at: datetime
    overall: float = Field(description="Mean of the frameworks' scores (0-100).")
    frameworks: dict[str, FrameworkOut]


class ScorePoint(BaseModel):
    """One point of the score history."""

    id: str
    at_us: int
    overall: float
    frameworks: dict[str, float]


class ScoreOut(BaseModel):
    """The latest scores and their history (oldest first)."""

    overall: float | None
    frameworks: dict[str, float]
    history: list[ScorePoint]


class EvidenceOut(BaseModel):
    """One stored evidence row."""

    seq: int
    check: str
    status: str
    collected_at_us: int
    sha256: str
    hash: str
    data: dict[str, Any]


class ChainOut(BaseModel):
    """The evidence chain's verification."""

    ok: bool
    verified: int
    head_hash: str | None = None
    first_bad_seq: int | None = None
    reason: str | None = None


class PlanOut(BaseModel):
    """A remediation plan."""

    id: str
    framework: str
    control_id: str
    severity: str
    recommendation: str
    owner: str | None
    due_at_us: int
    state: Literal["open", "in_progress", "done"]
    opened_by_report: str
    created_at_us: int
    updated_at_us: int


class PlanUpdate(RequestModel):
    """PATCH /compliance/remediation/{plan_id}: any of owner, due date, state."""

    model_config = ConfigDict(extra="forbid")

    owner: str | None = Field(default=None, min_length=1, max_length=200)
    due_at: datetime | None = Field(default=None, description="RFC 3339 with a time zone.")
    state: Literal["open", "in_progress", "done"] | None = None
