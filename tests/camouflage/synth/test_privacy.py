"""Copies and the distance to the closest record, on tables small enough to check by hand."""

from __future__ import annotations

import numpy as np
import pytest

from shieldx.camouflage.synth.columns import ColumnType
from shieldx.camouflage.synth.privacy import (
    canonical,
    decode_fingerprints,
    encode_fingerprints,
    fingerprints,
    privacy_report,
    row_keys,
)

TYPES = {
    "id": ColumnType.IDENTIFIER,
    "x": ColumnType.FLOAT,
    "c": ColumnType.CATEGORICAL,
    "b": ColumnType.BOOLEAN,
}
REAL = {
    "id": ["r1", "r2", "r3", "r4"],
    "x": ["0", "10", "5", ""],
    "c": ["a", "b", "a", "b"],
    "b": ["true", "false", "true", "false"],
}


def test_canonical_forms_compare_values_not_spelling() -> None:
    assert canonical(ColumnType.FLOAT, "1.50") == canonical(ColumnType.INTEGER, "1.5e0")
    assert canonical(ColumnType.BOOLEAN, "TRUE") == canonical(ColumnType.BOOLEAN, "true")
    naive = canonical(ColumnType.DATETIME, "2024-01-01T00:00:00")
    assert naive == canonical(ColumnType.DATETIME, "2024-01-01T00:00:00Z")
    assert canonical(ColumnType.CATEGORICAL, "") != canonical(ColumnType.CATEGORICAL, "x")


def test_row_keys_ignore_identifiers() -> None:
    other = dict(REAL, id=["n1", "n2", "n3", "n4"], x=["0.0", "10", "5", ""])
    assert row_keys(other, TYPES) == row_keys(REAL, TYPES)


def test_fingerprints_round_trip() -> None:
    values = fingerprints(row_keys(REAL, TYPES), b"0123456789abcdef")
    assert values.size == 4 and np.all(np.diff(values.astype(np.int64)) > 0)
    assert np.array_equal(decode_fingerprints(encode_fingerprints(values)), values)
    with pytest.raises(ValueError, match="32-bit"):
        decode_fingerprints("AAA=")


def test_distance_to_closest_record_by_hand() -> None:
    synthetic = {
        "id": ["s1", "s2", "r1"],
        "x": ["0", "7.5", "10"],
        "c": ["a", "a", "a"],
        "b": ["true", "true", "false"],
    }
    report = privacy_report(REAL, synthetic, TYPES)
    # s1 copies real row 1 (the id is not compared). s2: x 7.5 is 0.25 of the range from
    # row 3 (x 5, a, true): Gower (0.25 + 0 + 0) / 3. The third row: x 10 like row 2 but
    # c differs: 1/3 from row 2; from row 1, (1 + 0 + 1) / 3.
    assert report["exact_copies"] == 1
    assert report["dcr_min"] == 0
    assert report["dcr_median"] == pytest.approx(0.25 / 3, abs=1e-6)
    assert report["columns_compared"] == 3
    assert report["rows_compared"] == 3
    assert report["identifier_values_reused"] == 1  # "r1"


def test_missing_numbers_are_far_from_present_ones() -> None:
    synthetic = {"id": ["s"], "x": [""], "c": ["b"], "b": ["false"]}
    assert privacy_report(REAL, synthetic, TYPES)["dcr_min"] == 0  # row 4: x missing too
    moved = {"id": ["s"], "x": ["10"], "c": ["b"], "b": ["false"]}
    assert privacy_report(REAL, moved, TYPES)["exact_copies"] == 1  # row 2
