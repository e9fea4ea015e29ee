"""Request and response models of the locator's JSON routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shieldx.locator.store import KeyStatus
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


class SigningKeyInfo(BaseModel):
    """A signing key's public record."""

    kid: str
    status: KeyStatus
    created_at: datetime
    superseded_at: datetime | None
    retire_at: datetime | None
    retired_at: datetime | None


class RotateResponse(BaseModel):
    """The new signing key and every key's state after a rotation."""

    kid: str
    keys: list[SigningKeyInfo]


class ExchangeResponse(BaseModel):
    """RFC 8693 section 2.2.1."""

    access_token: str
    issued_token_type: str = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105
    token_type: str = "Bearer"  # noqa: S105
    expires_in: int
    scope: str
