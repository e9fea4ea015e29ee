"""Request bodies and response documents of the template and decoy routes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

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


# Responses: documents may grow fields this model does not name yet (they are passed through,
# never dropped); the routes leave out the optional fields a document does not hold.
_OPEN = ConfigDict(extra="allow")


class TemplateOut(BaseModel):
    """A bundled template."""

    model_config = _OPEN

    name: str
    server: str
    version: str
    description: str
    dialect: str | None = None


class RenderedAnswer(BaseModel):
    """A template's answer: status, headers in order, body as text and as base64."""

    model_config = _OPEN

    template: str
    status: int
    reason: str
    headers: list[list[str]] = Field(description="[name, value] pairs in the order sent")
    body: str
    body_base64: str


class DecoyOut(BaseModel):
    """A running decoy with its counters."""

    model_config = _OPEN

    name: str
    template: str
    port: int
    requests: int
    open_connections: int


class DecoyList(BaseModel):
    """GET /v1/camouflage/decoys."""

    model_config = _OPEN

    decoys: list[DecoyOut]
