"""Request and response models of the platform's own routes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from shieldx.platform.roles import Role

TenantId = str


class KeyCreate(BaseModel):
    """POST /admin/keys."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    tenant: TenantId | None = Field(
        None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$"
    )
    # A label shown in `shieldx keys list`: no control characters (NUL, terminal escapes).
    name: str = Field("", max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")


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


_FIRST_TIME = datetime(1970, 1, 1, tzinfo=UTC)
_LAST_TIME = datetime(9999, 12, 31, tzinfo=UTC)


def _iso_only(value: Any) -> Any:
    # pydantic would also read a number as Unix time (or milliseconds, above 2e10); the
    # documented form, and the only one taken, is ISO 8601.
    number = isinstance(value, int | float)
    if isinstance(value, str):
        try:
            float(value)
            number = True
        except ValueError:
            pass
    if number:
        raise ValueError("must be an ISO 8601 date-time such as 2024-05-01T12:00:00Z")
    return value


def _utc_time(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # a time without an offset is UTC
    if not _FIRST_TIME <= value < _LAST_TIME:
        raise ValueError("must lie between 1970-01-01 and 9999-12-30 (UTC)")
    return value


# An instant the service can turn into epoch seconds and print back as ISO 8601.
UtcTime = Annotated[datetime, BeforeValidator(_iso_only), AfterValidator(_utc_time)]
