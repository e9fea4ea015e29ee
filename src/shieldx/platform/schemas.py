"""Request and response models of the platform's own routes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from shieldx.platform.roles import Role

TenantId = str
# C0 controls and DEL: never in an identifier or a name (NUL cannot even be stored by
# PostgreSQL; others end up in logs, CSV files and terminals).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Free text may hold tab, line feed and carriage return, and no other control.
_CONTROL_BUT_WHITESPACE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def control_character(value: str, *, multiline: bool = False) -> str | None:
    """A description of the first control character in VALUE (None when there is none)."""
    found = (_CONTROL_BUT_WHITESPACE if multiline else _CONTROL).search(value)
    if found is None:
        return None
    return f"U+{ord(found.group()):04X} at position {found.start()}"


def _check_strings(value: Any, *, multiline: bool) -> None:
    if isinstance(value, str):
        bad = control_character(value, multiline=multiline)
        if bad is not None:
            allowed = " (tab, line feed and carriage return are allowed)" if multiline else ""
            raise ValueError(f"must not contain control characters: found {bad}{allowed}")
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _check_strings(item, multiline=multiline)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check_strings(key, multiline=False)
            _check_strings(item, multiline=multiline)
    # Nested models are checked by their own class (each a RequestModel).


class RequestModel(BaseModel):
    """The base of every request body of every service: no control characters in any string.

    Every string field, and every string inside a list, tuple or mapping field, is refused
    (422) when it holds a C0 control character or DEL; the fields named in
    `multiline_fields` are free text and may also hold tab, line feed and carriage return.
    A field added later is covered without anyone remembering to.
    """

    multiline_fields: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None or isinstance(value, int | float | bool | datetime | BaseModel):
            return value
        _check_strings(value, multiline=info.field_name in cls.multiline_fields)
        return value


class KeyCreate(RequestModel):
    """POST /admin/keys."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    tenant: TenantId | None = Field(
        None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$"
    )
    # A label shown in `shieldx keys list`: no control characters (RequestModel refuses them).
    name: str = Field("", max_length=200)


class KeyCreated(BaseModel):
    """A new key; `key` is shown this once and never again."""

    id: str
    key: str
    role: Role
    tenant: str | None
    name: str


class MfaCode(RequestModel):
    """POST /admin/mfa/confirm."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=6, max_length=6, pattern=r"^[0-9]{6}$")


class MfaEnrolled(BaseModel):
    """A new TOTP factor: `secret` and `otpauth_uri` are shown this once."""

    key_id: str
    secret: str
    otpauth_uri: str


class MfaStatus(BaseModel):
    """The calling key's factor: none, pending (not confirmed) or active."""

    key_id: str
    factor: str
    required: bool


class WhoAmI(BaseModel):
    """GET /whoami: the service answering and the caller's key."""

    service: str
    key_id: str
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
