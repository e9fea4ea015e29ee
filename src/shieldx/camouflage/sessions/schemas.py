"""Request bodies of the session routes (responses are plain JSON documents)."""

from __future__ import annotations

from pydantic import Field

from shieldx.camouflage.fields import DECOY_NAME, Body, SourceIp


class SessionOpen(Body):
    """POST /v1/camouflage/session: a session an external sensor is about to report."""

    decoy: str = Field(pattern=DECOY_NAME)
    template: str = Field("external", min_length=1, max_length=64)
    source_ip: SourceIp
    source_port: int = Field(0, ge=0, le=65535)
    user_agent: str = Field("", max_length=512)
