"""Strict parsing of numbers and times that arrive as text (query strings, cursors, headers).

Python's `int()`, `str.isdigit()` and `datetime.fromisoformat()` accept more than a client
means: `int("٣")` is 3, `"²".isdigit()` is true but `int("²")` raises, and a 20-digit
integer overflows a BIGINT column or `datetime`. Every parser here takes ASCII only, bounds
the result, and raises `ValueError` with a message that says what was expected; `problem`
turns that into a 422 naming the parameter.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from shieldx.platform.errors import Problem

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
_INTEGER = re.compile(r"-?[0-9]+")
# RFC 3339 date-time (a space is accepted for T; a missing offset means UTC).
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})?)?"
)
_FIRST = datetime(1970, 1, 1, tzinfo=UTC)
_LAST = datetime(9999, 12, 31, tzinfo=UTC)


def parse_int(text: str, *, minimum: int = INT64_MIN, maximum: int = INT64_MAX) -> int:
    """An ASCII decimal integer in MINIMUM..MAXIMUM (64-bit by default); ValueError otherwise."""
    if not _INTEGER.fullmatch(text):
        raise ValueError(f"must be a decimal integer (ASCII digits 0-9), got {text[:40]!r}")
    value = int(text) if len(text) <= 20 else maximum + 1  # int() of huge text is slow
    if not minimum <= value <= maximum:
        raise ValueError(f"must be between {minimum} and {maximum}, got {text[:40]}")
    return value


def parse_position(text: str) -> int:
    """A log position: an ASCII integer in 0..2^63-1."""
    return parse_int(text, minimum=0)


def parse_timestamp(text: str) -> datetime:
    """An RFC 3339 instant between 1970 and 9999 (UTC when no offset is given)."""
    if not _TIMESTAMP.fullmatch(text):
        raise ValueError(
            f"must be an RFC 3339 timestamp such as 2024-05-01T12:00:00Z, got {text[:40]!r}"
        )
    try:
        moment = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"is not a valid RFC 3339 timestamp ({exc})") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if not _FIRST <= moment < _LAST:
        raise ValueError("must lie between 1970-01-01 and 9999-12-30 (UTC)")
    return moment


def timestamp_us(moment: datetime) -> int:
    """Microseconds since the Unix epoch, exactly (no float rounding)."""
    delta = moment - _FIRST
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def problem(name: str, error: ValueError) -> Problem:
    """The 422 for query parameter NAME that failed to parse."""
    return Problem(422, f"{name} {error}", type="validation-error", parameter=name)
