"""Response models of the alert routes."""

from __future__ import annotations

from pydantic import BaseModel, Field


class AlertOut(BaseModel):
    """A compliance alert."""

    id: str
    dedupe_key: str = Field(description="The condition the alert stands for (raised once).")
    severity: str
    subject: str
    detail: str
    created_at_us: int
    deadline_at_us: int | None = Field(description="When set: the GDPR Art. 33 72-hour clock.")
    acknowledged_at_us: int | None
    acknowledged_by: str | None
    escalated_at_us: int | None
    deliveries: dict[str, str] = Field(description="Channel outcomes, e.g. webhook.raised.")
