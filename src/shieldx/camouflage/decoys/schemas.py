"""Request bodies of the template routes (responses are plain JSON documents)."""

from __future__ import annotations

from pydantic import Field

from shieldx.camouflage.fields import METHOD, Body, Headers, Path


class PreviewContext(Body):
    """Optional request details for a template preview."""

    headers: Headers = Field(default_factory=list)
    server_name: str = Field("localhost", min_length=1, max_length=253)
    port: int = Field(80, ge=1, le=65535)


class PreviewRequest(Body):
    """POST /v1/camouflage/template/{name}."""

    path: Path
    method: str = Field("GET", pattern=METHOD)
    context: PreviewContext = Field(default_factory=PreviewContext)
