"""Request and response models of the token routes (/issue)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shieldx.platform.schemas import RequestModel

Name = str


class IssueRequest(RequestModel):
    """POST /issue."""

    multiline_fields = frozenset({"claims"})  # claim values are free JSON text

    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=256)
    audience: str | list[str] = Field(description="One audience, or a list of them.")
    scopes: list[str] = Field(default_factory=list, max_length=64)
    ttl_seconds: int | None = Field(None, description="Within locator.min_ttl..max_ttl.")
    client_id: str | None = Field(None, min_length=1, max_length=256)
    tenant: str | None = Field(None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")
    claims: dict[str, Any] | None = Field(
        None, description="Extra claims; reserved names (iss, sub, aud, exp, …) are refused."
    )


class IssueResponse(BaseModel):
    """A signed access token (RFC 6749 section 5.1 plus jti and kid)."""

    access_token: str
    token_type: str = "Bearer"  # noqa: S105
    expires_in: int
    scope: str
    jti: str
    kid: str
