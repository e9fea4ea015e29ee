"""Column types of a sample table: detected from the text of its cells, and their codecs.

Every cell arrives as text (a CSV cell); an empty cell is a missing value. The rules, in order:

- boolean: every value is one of a pair of tokens (true/false, yes/no, t/f, y/n, any case);
- datetime: every value parses with one ISO 8601 pattern (a date, or a date and time with
  optional fractional seconds and one constant offset suffix such as `Z`);
- integer / float: every value is a decimal number; an integer column whose values are all
  distinct and either sorted or named like a key (`id`, `user_id`, `uuid`) is an identifier,
  and so is one with leading zeros (a code, not a quantity);
- categorical: at most MAX_CATEGORIES distinct values, and at least 80 % of the cells hold a
  value seen twice or more;
- otherwise identifier (mostly single tokens) or text (mostly several words).

Identifiers and text are never memorised: the model keeps their shape, not their values.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum

import numpy as np

MAX_CATEGORIES = 1000
# Share of cells whose value appears at least twice for a text column to be categorical.
REPEATED_SHARE = 0.8
BOOLEAN_PAIRS = (("true", "false"), ("yes", "no"), ("t", "f"), ("y", "n"))
INTEGER = re.compile(r"[+-]?\d{1,18}")
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
KEY_NAME = re.compile(r"(^|[_\-\s])(id|uuid|guid|key)$|[a-z]Id$", re.IGNORECASE)
DATE_PATTERNS = (
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
)
DATETIME_TEXT = re.compile(
    r"(\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?)?)(\.\d{1,6})?(Z|[+-]\d{2}:?\d{2})?"
)


class ColumnType(StrEnum):
    """What a column holds, which decides how it is modelled and generated."""

    INTEGER = "integer"
    FLOAT = "float"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    CATEGORICAL = "categorical"
    IDENTIFIER = "identifier"
    TEXT = "text"

    @property
    def numeric(self) -> bool:
        """Whether the column's values are ordered numbers (datetimes as epoch seconds)."""
        return self in (ColumnType.INTEGER, ColumnType.FLOAT, ColumnType.DATETIME)

    @property
    def learned(self) -> bool:
        """Whether the copula models the column (identifiers and text are generated apart)."""
        return self not in (ColumnType.IDENTIFIER, ColumnType.TEXT)


class DatetimeFormat:
    """One ISO 8601 layout: a strptime pattern, fractional digits and a constant suffix."""

    def __init__(self, pattern: str, fraction: int = 0, suffix: str = "") -> None:
        if pattern not in DATE_PATTERNS:
            raise ValueError(f"datetime pattern must be one of {', '.join(DATE_PATTERNS)}")
        if not 0 <= fraction <= 6:
            raise ValueError("datetime fraction digits must be between 0 and 6")
        if suffix and not re.fullmatch(r"Z|[+-]\d{2}:?\d{2}", suffix):
            raise ValueError(f"datetime suffix must be Z or an offset like +02:00 (got {suffix!r})")
        self.pattern, self.fraction, self.suffix = pattern, fraction, suffix

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view."""
        return {"pattern": self.pattern, "fraction": self.fraction, "suffix": self.suffix}

    def parse(self, text: str) -> float:
        """Seconds since the epoch (the suffix is constant, so it is read as UTC)."""
        match = DATETIME_TEXT.fullmatch(text)
        if (
            match is None
            or (match.group(3) or "") != self.suffix
            or _layout(match.group(1)) != self.pattern
        ):
            raise ValueError(f"{text!r} is not a datetime like {self.example()}")
        moment = datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC)
        fraction = float(match.group(2)) if match.group(2) else 0.0
        return moment.timestamp() + fraction

    def format(self, seconds: float) -> str:
        """The text of a moment in this layout."""
        return self.format_many([seconds])[0]

    def format_many(self, seconds: Sequence[float]) -> list[str]:
        """The texts of many moments (numpy formats them all at once)."""
        scale = 10**self.fraction
        ticks = np.floor(np.asarray(seconds, dtype=np.float64) * scale + 0.5).astype(np.int64)
        whole, part = np.divmod(ticks, scale)
        stamps = np.datetime_as_string(whole.astype("datetime64[s]"), unit="s").tolist()
        width = {10: 10, 16: 16}.get(len(self.pattern.replace("%Y", "YYYY")), 19)
        separator = self.pattern[8:9] if len(self.pattern) > 8 else "T"
        heads = [stamp[:width].replace("T", separator) for stamp in stamps]
        if self.fraction:
            heads = [
                f"{h}.{p:0{self.fraction}d}" for h, p in zip(heads, part.tolist(), strict=True)
            ]
        return [h + self.suffix for h in heads]

    def example(self) -> str:
        """An example value, for error messages."""
        return self.format(1_700_000_000.0)


def detect_datetime(values: Sequence[str]) -> DatetimeFormat | None:
    """The one layout every value follows, or None if they are not all ISO 8601 datetimes."""
    matches = [DATETIME_TEXT.fullmatch(value) for value in values]
    if not matches or any(m is None for m in matches):
        return None
    suffixes = {m.group(3) or "" for m in matches if m is not None}
    if len(suffixes) != 1:
        return None
    fraction = max(len(m.group(2) or ".") - 1 for m in matches if m is not None)
    heads = [m.group(1) for m in matches if m is not None]
    layouts = {_layout(head) for head in heads}
    if len(layouts) != 1:
        return None
    try:
        for head in heads:
            datetime.fromisoformat(head)
    except ValueError:
        return None
    return DatetimeFormat(layouts.pop(), fraction, suffixes.pop())


def _layout(head: str) -> str:
    """The strptime pattern of a date or date-time head matched by DATETIME_TEXT."""
    if len(head) == 10:
        return "%Y-%m-%d"
    return f"%Y-%m-%d{head[10]}%H:%M" + (":%S" if len(head) == 19 else "")


def boolean_pair(values: Sequence[str]) -> tuple[str, str] | None:
    """The (true, false) token pair all values belong to, ignoring case, or None."""
    tokens = {value.lower() for value in values}
    for pair in BOOLEAN_PAIRS:
        if tokens and tokens <= set(pair):
            return pair
    return None


def float_decimals(values: Sequence[str]) -> int:
    """Digits after the point to write (the most the sample shows, at most 12)."""
    decimals = 0
    for value in values:
        mantissa = value.lower().split("e", 1)[0]
        if "." in mantissa:
            decimals = max(decimals, len(mantissa) - mantissa.index(".") - 1)
    return min(decimals, 12)


def _looks_like_key(name: str, values: Sequence[str]) -> bool:
    """All distinct, and named like a key or in strictly increasing order."""
    if len(set(values)) != len(values) or len(values) < 2:
        return False
    if KEY_NAME.search(name.strip()):
        return True
    numbers = [int(value) for value in values]
    return all(a < b for a, b in itertools.pairwise(numbers))


def detect_type(name: str, cells: Sequence[str]) -> ColumnType:
    """The type of a column from its cells (empty cells are missing values)."""
    values = [cell for cell in cells if cell != ""]
    if not values:
        return ColumnType.CATEGORICAL
    if boolean_pair(values) is not None:
        return ColumnType.BOOLEAN
    if detect_datetime(values) is not None:
        return ColumnType.DATETIME
    if all(INTEGER.fullmatch(value) for value in values):
        leading_zero = any(len(v.lstrip("+-")) > 1 and v.lstrip("+-")[0] == "0" for v in values)
        if leading_zero or _looks_like_key(name, values):
            return ColumnType.IDENTIFIER
        return ColumnType.INTEGER
    if all(NUMBER.fullmatch(value) for value in values) and all(
        math.isfinite(float(value)) for value in values
    ):
        return ColumnType.FLOAT
    counts = Counter(values)
    repeated = sum(count for count in counts.values() if count >= 2)
    if len(counts) <= MAX_CATEGORIES and repeated >= REPEATED_SHARE * len(values):
        return ColumnType.CATEGORICAL
    spaced = sum(" " in value.strip() for value in values)
    return ColumnType.TEXT if spaced >= len(values) / 2 else ColumnType.IDENTIFIER
