"""Request bodies and response documents of the session routes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shieldx.camouflage.fields import DECOY_NAME, Body, SourceIp


class SessionOpen(Body):
    """POST /v1/camouflage/session: a session an external sensor is about to report."""

    decoy: str = Field(pattern=DECOY_NAME)
    template: str = Field("external", min_length=1, max_length=64)
    source_ip: SourceIp
    source_port: int = Field(0, ge=0, le=65535)
    user_agent: str = Field("", max_length=512)


# Responses: documents may grow fields this model does not name yet (they are passed through,
# never dropped); the routes leave out the optional fields a document does not hold.
_OPEN = ConfigDict(extra="allow")


class SessionOut(BaseModel):
    """An attacker session, live or stored (a stored one also says why it closed)."""

    model_config = _OPEN

    session_id: str | None = None
    decoy: str
    template: str
    source_ip: str
    source_port: int
    user_agent: str
    via: str
    started: str | None = None
    last_seen: str
    duration_s: float | None = None
    requests: int
    distinct_paths: int | None = None
    maze_depth: int | None = None
    honeytokens_taken: int | None = None
    honeytokens_used: int | None = None
    scanner: str | None = None
    tool: str | None = None
    attack_types: dict[str, int] | None = None
    linked_to: str | None = None
    status: str | None = None
    close_reason: str | None = None


class ClassificationOut(BaseModel):
    """What the session's traffic looks like."""

    model_config = _OPEN

    scanner: str
    tool: str
    attack_types: dict[str, int]


class EngagementOut(BaseModel):
    """How far the attacker went."""

    model_config = _OPEN

    duration_s: float
    requests: int
    distinct_paths: int
    maze_depth: int
    honeytokens_taken: int
    honeytokens_used: int


class HoneytokenOut(BaseModel):
    """A honeytoken planted in the session."""

    model_config = _OPEN

    token_id: str
    kind: str
    path: str
    planted_at: str
    uses: int


class EventOut(BaseModel):
    """A recorded event (camouflage.request and its common fields)."""

    model_config = _OPEN

    event: str
    time: str
    session_id: str | None = None


class SessionDetail(BaseModel):
    """GET /v1/camouflage/session/{id}: figures, classification, events, honeytokens."""

    model_config = _OPEN

    session: SessionOut
    classification: ClassificationOut
    engagement: EngagementOut
    honeytokens: list[HoneytokenOut]
    linked_sessions: list[str]
    events: list[EventOut]


class SessionList(BaseModel):
    """GET /v1/camouflage/sessions: the sessions and how many are live."""

    model_config = _OPEN

    sessions: list[SessionOut]
    live: int
