"""Response model of the token-exchange route (RFC 8693)."""

from __future__ import annotations

from pydantic import BaseModel


class ExchangeResponse(BaseModel):
    """RFC 8693 section 2.2.1."""

    access_token: str
    issued_token_type: str = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105
    token_type: str = "Bearer"  # noqa: S105
    expires_in: int
    scope: str
