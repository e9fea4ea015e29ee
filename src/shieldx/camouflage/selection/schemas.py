"""Request bodies of the selection routes (responses are plain JSON documents)."""

from __future__ import annotations

from pydantic import Field

from shieldx.camouflage.fields import METHOD, SESSION_ID, Body, Headers, Path, SourceIp


class SelectContext(Body):
    """Who is asking for a decoy, and (for /adaptive) what they asked."""

    source_ip: SourceIp
    source_port: int = Field(0, ge=0, le=65535)
    user_agent: str | None = Field(None, max_length=512)
    port: int | None = Field(None, ge=0, le=65535)
    path: Path = "/"
    method: str = Field("GET", pattern=METHOD)
    headers: Headers = Field(default_factory=list)


class SelectRequest(Body):
    """POST /select and POST /v1/camouflage/adaptive."""

    context: SelectContext


class FeedbackRequest(Body):
    """POST /feedback: a session's reward in [0, 1]."""

    session_id: str = Field(pattern=SESSION_ID)
    reward: float = Field(ge=0.0, le=1.0)
