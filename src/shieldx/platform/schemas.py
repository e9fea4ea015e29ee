"""Request and response models of the platform's own routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shieldx.platform.roles import Role

TenantId = str


class KeyCreate(BaseModel):
    """POST /admin/keys."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    tenant: TenantId | None = Field(
        None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$"
    )
    name: str = Field("", max_length=200)


class KeyCreated(BaseModel):
    """A new key; `key` is shown this once and never again."""

    id: str
    key: str
    role: Role
    tenant: str | None
    name: str


class KeyInfo(BaseModel):
    """A stored key, without its secret."""

    id: str
    name: str
    role: Role
    tenant: str | None
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
