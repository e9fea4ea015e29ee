"""Response models of the signing-key routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from shieldx.locator.state.store import KeyStatus


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
