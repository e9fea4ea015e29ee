"""Time for the shadow service: an injectable clock and UTC datetimes from either backend."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The current UTC time."""
    return datetime.now(UTC)


def utc(value: datetime) -> datetime:
    """VALUE as an aware UTC datetime (SQLite returns naive ones; they were stored as UTC)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def maybe_utc(value: datetime | None) -> datetime | None:
    """utc() that lets None through."""
    return None if value is None else utc(value)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 text of a datetime, or None."""
    return None if value is None else utc(value).isoformat()


class ManualClock:
    """A clock that only moves when told to (tests drive stage durations with it)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.at = start or system_clock()

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.at += timedelta(seconds=seconds)
