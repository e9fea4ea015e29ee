"""Small typed building blocks shared by every settings section."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

# One strict parser for every duration (settings and request bodies): ASCII digits only
# (re.ASCII: "\d" would also match "٣"), finite, bounded, so that no input reaches timedelta()
# with a value it overflows on (an OverflowError is a 500).
_DURATION = re.compile(r"\s*([0-9]{1,12})(?:\.([0-9]{1,9}))?\s*(ms|s|m|h|d)?\s*", re.ASCII)
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
#: The longest duration any setting or request accepts (ten years).
MAX_DURATION = timedelta(days=3650)
_ADVICE = (
    "a duration is a number of seconds or a number with a unit (ms, s, m, h or d), "
    f"between 0s and {MAX_DURATION.days}d, for example '30s' or '5m'"
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


def format_duration(value: timedelta) -> str:
    """Render a timedelta the way it is written in the YAML file."""
    seconds = value.total_seconds()
    for unit in ("d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    if seconds < 1 and seconds != 0:
        return f"{round(seconds * 1000)}ms"
    return f"{seconds:g}s"


Duration = Annotated[
    timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)
]
Port = Annotated[int, Field(ge=0, le=65535)]


class Section(BaseModel):
    """Base of every settings section: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)
