"""Column types detected from cell texts, and the datetime layouts they keep."""

from __future__ import annotations

import pytest

from shieldx.camouflage.synth.columns import (
    ColumnType,
    DatetimeFormat,
    detect_datetime,
    detect_type,
    float_decimals,
)


@pytest.mark.parametrize(
    ("name", "cells", "expected"),
    [
        ("active", ["true", "False", "", "TRUE"], ColumnType.BOOLEAN),
        ("ok", ["yes", "no", "no"], ColumnType.BOOLEAN),
        ("count", ["3", "1", "3", "-2", ""], ColumnType.INTEGER),
        ("price", ["3.50", "1", "2e3", "-0.25"], ColumnType.FLOAT),
        ("day", ["2024-01-31", "2023-12-01"], ColumnType.DATETIME),
        ("seen", ["2024-01-31T10:00:00Z", "2024-02-01T00:00:00.5Z"], ColumnType.DATETIME),
        ("seen", ["2024-01-31 10:00", "2024-02-01 23:59"], ColumnType.DATETIME),
        ("plan", ["a", "b", "a", "b", "c", "c"], ColumnType.CATEGORICAL),
        ("code", ["x1", "x2", "x3", "x4"], ColumnType.IDENTIFIER),
        ("user_id", ["17", "3", "99", "42"], ColumnType.IDENTIFIER),  # distinct, named as a key
        ("row", ["1", "2", "3", "4"], ColumnType.IDENTIFIER),  # distinct and sorted
        ("zip", ["02134", "10001", "02134"], ColumnType.IDENTIFIER),  # leading zeros: a code
        ("note", ["called about a bill", "moved abroad", "x"], ColumnType.TEXT),
        ("empty", ["", ""], ColumnType.CATEGORICAL),
    ],
)
def test_detected_types(name: str, cells: list[str], expected: ColumnType) -> None:
    assert detect_type(name, cells) is expected


def test_mixed_offsets_or_layouts_are_not_one_datetime_column() -> None:
    assert detect_datetime(["2024-01-31T10:00:00Z", "2024-01-31T10:00:00+02:00"]) is None
    assert detect_datetime(["2024-01-31", "2024-13-01"]) is None
    assert detect_type("t", ["2024-01-31", "yesterday"]) is ColumnType.IDENTIFIER


def test_datetime_layout_round_trips() -> None:
    fmt = detect_datetime(["2024-01-31T10:00:00.25Z", "2024-02-01T00:00:00.5Z"])
    assert fmt is not None and fmt.fraction == 2 and fmt.suffix == "Z"
    seconds = fmt.parse("2024-01-31T10:00:00.25Z")
    assert fmt.format(seconds) == "2024-01-31T10:00:00.25Z"
    with pytest.raises(ValueError, match="datetime like"):
        fmt.parse("2024-01-31T10:00:00")
    with pytest.raises(ValueError, match="pattern must be one of"):
        DatetimeFormat("%d/%m/%Y")


def test_float_decimals_follow_the_sample() -> None:
    assert float_decimals(["1.5", "2.25", "3"]) == 2
    assert float_decimals(["1e3", "2.5E-1"]) == 1
