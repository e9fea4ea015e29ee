"""Privacy of generated rows: copies of real rows, and the distance to the closest real record.

Both judge the *learned* columns (every column but identifiers and free text, which are made
fresh and would otherwise make every row look new). Two rows are copies when each learned
column holds the same value (numbers and datetimes compared as numbers, booleans ignoring
case). The distance is Gower's: a numeric column contributes |a - b| / (range of the real
column), any other column 0 if equal and 1 if not, a missing value 1 unless both are missing;
the row distance is the mean over columns, so 0 is a copy and 1 is as far as possible.
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from numpy.typing import NDArray

from shieldx.camouflage.synth.columns import ColumnType

Table = Mapping[str, Sequence[str]]
NULL_KEY = "\x00"
# Synthetic rows whose distance is computed (a seeded subsample past that), and real rows
# they are compared with: the distance costs rows x rows x columns.
DCR_MAX_SYNTHETIC = 5_000
DCR_MAX_REAL = 50_000
CHUNK_CELLS = 4_000_000


def canonical(kind: ColumnType, text: str) -> str:
    """The comparable form of a cell: numbers as floats, datetimes as epoch seconds."""
    if text == "":
        return NULL_KEY
    if kind in (ColumnType.INTEGER, ColumnType.FLOAT):
        return repr(float(text))
    if kind is ColumnType.DATETIME:
        moment = datetime.fromisoformat(text)
        return repr((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())
    if kind is ColumnType.BOOLEAN:
        return text.lower()
    return text


def row_keys(table: Table, types: Mapping[str, ColumnType]) -> list[str]:
    """One key per row over the learned columns; equal keys mean copies."""
    names = [name for name, kind in types.items() if kind.learned]
    columns = [[canonical(types[name], cell) for cell in table[name]] for name in names]
    rows = len(next(iter(table.values()), ()))
    if not columns:
        return [""] * rows
    return ["\x1f".join(parts) for parts in zip(*columns, strict=True)]


def hash_keys(keys: Sequence[str], salt: bytes) -> NDArray[np.uint32]:
    """Keyed 32-bit hashes (BLAKE2b) of row keys, in order."""
    values = [
        int.from_bytes(hashlib.blake2b(key.encode(), key=salt, digest_size=4).digest(), "big")
        for key in keys
    ]
    return np.array(values, dtype=np.uint32)


def fingerprints(keys: Sequence[str], salt: bytes) -> NDArray[np.uint32]:
    """The hashes of row keys, sorted and unique (what a model file keeps)."""
    return np.unique(hash_keys(keys, salt))


def encode_fingerprints(values: NDArray[np.uint32]) -> str:
    """Base64 of the big-endian 32-bit values."""
    return base64.b64encode(values.astype(">u4").tobytes()).decode()


def decode_fingerprints(text: str) -> NDArray[np.uint32]:
    """The values written by encode_fingerprints (ValueError if malformed)."""
    raw = base64.b64decode(text.encode(), validate=True)
    if len(raw) % 4:
        raise ValueError("fingerprints must be a whole number of 32-bit values")
    return np.frombuffer(raw, dtype=">u4").astype(np.uint32)


def _numeric(kind: ColumnType, cells: Sequence[str]) -> NDArray[np.float64]:
    """Numbers of a column, NaN where missing or unreadable."""
    out = np.full(len(cells), np.nan)
    for i, cell in enumerate(cells):
        if cell == "":
            continue
        try:
            text = canonical(kind, cell)
            out[i] = float(text)
        except ValueError:
            continue
    return out


@dataclass(frozen=True)
class Encoded:
    """Real and synthetic rows as arrays: scaled numbers, and category codes."""

    real_numbers: NDArray[np.float64]
    synth_numbers: NDArray[np.float64]
    real_codes: NDArray[np.int64]
    synth_codes: NDArray[np.int64]

    @property
    def columns(self) -> int:
        """How many columns are compared."""
        return int(self.real_numbers.shape[1] + self.real_codes.shape[1])


def encode(real: Table, synthetic: Table, types: Mapping[str, ColumnType]) -> Encoded:
    """Scale numeric columns by the real range and code the others (-1 for missing)."""
    numbers_r: list[NDArray[np.float64]] = []
    numbers_s: list[NDArray[np.float64]] = []
    codes_r: list[NDArray[np.int64]] = []
    codes_s: list[NDArray[np.int64]] = []
    for name, kind in types.items():
        if not kind.learned:
            continue
        if kind.numeric:
            r, s = _numeric(kind, real[name]), _numeric(kind, synthetic[name])
            low = np.nanmin(r) if np.isfinite(r).any() else 0.0
            span = (np.nanmax(r) - low) if np.isfinite(r).any() else 1.0
            span = span if span > 0 else 1.0
            numbers_r.append((r - low) / span)
            numbers_s.append((s - low) / span)
        else:
            codes: dict[str, int] = {NULL_KEY: -1}
            for target, cells in ((codes_r, real[name]), (codes_s, synthetic[name])):
                keys = [canonical(kind, cell) for cell in cells]
                target.append(np.array([codes.setdefault(k, len(codes)) for k in keys]))
    n_r, n_s = len(next(iter(real.values()))), len(next(iter(synthetic.values())))

    def stack(
        parts: list[NDArray[np.float64]] | list[NDArray[np.int64]], n: int
    ) -> NDArray[np.float64]:
        return np.column_stack(parts) if parts else np.zeros((n, 0))

    return Encoded(
        stack(numbers_r, n_r),
        stack(numbers_s, n_s),
        stack(codes_r, n_r).astype(np.int64),
        stack(codes_s, n_s).astype(np.int64),
    )


def closest_distances(
    rows_numbers: NDArray[np.float64],
    rows_codes: NDArray[np.int64],
    real_numbers: NDArray[np.float64],
    real_codes: NDArray[np.int64],
    *,
    exclude_self: bool = False,
) -> NDArray[np.float64]:
    """For each row, the Gower distance to the closest real row (itself excluded if asked)."""
    columns = rows_numbers.shape[1] + rows_codes.shape[1]
    if columns == 0:
        return np.zeros(rows_numbers.shape[0])
    n_real = real_numbers.shape[0]
    step = max(1, CHUNK_CELLS // max(1, n_real * columns))
    best = np.empty(rows_numbers.shape[0])
    for start in range(0, rows_numbers.shape[0], step):
        a_num = rows_numbers[start : start + step, None, :]
        diff = np.abs(a_num - real_numbers[None, :, :])
        missing_a, missing_b = np.isnan(a_num), np.isnan(real_numbers[None, :, :])
        diff = np.where(missing_a & missing_b, 0.0, np.where(missing_a | missing_b, 1.0, diff))
        total = np.minimum(diff, 1.0).sum(axis=2)
        total += (rows_codes[start : start + step, None, :] != real_codes[None, :, :]).sum(axis=2)
        distance = total / columns
        if exclude_self:
            for offset in range(distance.shape[0]):
                distance[offset, start + offset] = math.inf
        best[start : start + step] = distance.min(axis=1)
    return best


def privacy_report(
    real: Table, synthetic: Table, types: Mapping[str, ColumnType], *, seed: int = 0
) -> dict[str, object]:
    """Exact copies (every synthetic row) and distances to the closest record (a subsample)."""
    real_keys = set(row_keys(real, types))
    synth_keys = row_keys(synthetic, types)
    copies = sum(key in real_keys for key in synth_keys)
    encoded = encode(real, synthetic, types)
    rng = np.random.default_rng(seed)
    n_s, n_r = len(synth_keys), len(next(iter(real.values())))
    pick_s = np.sort(rng.choice(n_s, min(n_s, DCR_MAX_SYNTHETIC), replace=False))
    pick_r = np.sort(rng.choice(n_r, min(n_r, DCR_MAX_REAL), replace=False))
    real_num, real_codes = encoded.real_numbers[pick_r], encoded.real_codes[pick_r]
    dcr = closest_distances(
        encoded.synth_numbers[pick_s], encoded.synth_codes[pick_s], real_num, real_codes
    )
    # The same distance among real rows: generated rows should not sit closer to real ones.
    base_pick = pick_r[: min(len(pick_r), DCR_MAX_SYNTHETIC)]
    baseline = closest_distances(
        encoded.real_numbers[base_pick],
        encoded.real_codes[base_pick],
        real_num,
        real_codes,
        exclude_self=True,
    )
    identifier_reuse = 0
    for name, kind in types.items():
        if not kind.learned:
            seen = {cell for cell in real[name] if cell}
            identifier_reuse += sum(cell in seen for cell in synthetic[name] if cell)
    return {
        "exact_copies": copies,
        "dcr_min": round(float(dcr.min()), 6) if dcr.size else None,
        "dcr_p5": round(float(np.quantile(dcr, 0.05)), 6) if dcr.size else None,
        "dcr_median": round(float(np.median(dcr)), 6) if dcr.size else None,
        "real_nn_median": round(float(np.median(baseline)), 6) if baseline.size > 1 else None,
        "rows_compared": int(dcr.size),
        "columns_compared": encoded.columns,
        "identifier_values_reused": identifier_reuse,
    }
