"""Time for the shadow service: an injectable clock and UTC datetimes from either backend."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

from shieldx.platform.settings_types import format_duration

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


# One strict parser for every duration the shadow service reads (settings and request
# bodies): ASCII digits only (re.ASCII: "\d" would also match "٣"), finite, bounded, so that
# no input reaches timedelta() with a value it overflows on (an OverflowError is a 500).
_DURATION = re.compile(r"\s*([0-9]{1,12})(?:\.([0-9]{1,9}))?\s*(ms|s|m|h|d)?\s*", re.ASCII)
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
#: The longest duration any shadow setting or request accepts (ten years).
MAX_DURATION = timedelta(days=3650)
_ADVICE = (
    "a duration is a number of seconds or a number with a unit (ms, s, m, h or d), "
    f"between 0s and {MAX_DURATION.days}d, for example '30s' or '10m'"
)


def parse_duration(value: object) -> timedelta:
    """A timedelta from '500ms', '30s', '5m', '1h', '2d' or seconds; ValueError otherwise."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool):
        raise ValueError(f"{_ADVICE} (got {value!r})")
    elif isinstance(value, int | float):
        if not math.isfinite(value) or abs(value) > MAX_DURATION.total_seconds():
            raise ValueError(f"{_ADVICE} (got {_show(value)})")
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION.fullmatch(value) if len(value) <= 64 else None
        if match is None:
            raise ValueError(f"{_ADVICE} (got {_show(value)})")
        whole, fraction, unit = match.groups()
        seconds = float(f"{whole}.{fraction or 0}") * _UNIT_SECONDS[unit or "s"]
    else:
        raise ValueError(f"{_ADVICE} (got a {type(value).__name__})")
    if not 0 <= seconds <= MAX_DURATION.total_seconds():
        raise ValueError(f"{_ADVICE} (got {_show(value)})")
    return timedelta(seconds=seconds)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


Duration = Annotated[
    timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)
]
