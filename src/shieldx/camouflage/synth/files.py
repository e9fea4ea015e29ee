"""Files: sample tables as CSV (read with limits and clear errors) and models as JSON."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import orjson

from shieldx.camouflage.synth.fields import ModelError
from shieldx.camouflage.synth.model import (
    MAX_COLUMNS,
    MAX_ROWS,
    MIN_ROWS,
    CopulaModel,
    model_from_dict,
)

MAX_BYTES = 256 * 1024 * 1024
MAX_MODEL_BYTES = 64 * 1024 * 1024
MAX_CELL = 100_000


class TableFileError(ValueError):
    """A CSV file that cannot be used as a table; the message says where and why."""


def read_table(path: Path, *, min_rows: int = MIN_ROWS) -> dict[str, list[str]]:
    """A CSV file with a header line as columns of cell texts (checked against the limits)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise TableFileError(f"cannot read {path}: {exc.strerror}") from None
    if size > MAX_BYTES:
        raise TableFileError(f"{path} is {size:,} bytes; a sample may have at most {MAX_BYTES:,}")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TableFileError(f"{path} is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise TableFileError(f"cannot read {path}: {exc.strerror}") from None
    return parse_table(text, name=str(path), min_rows=min_rows)


def parse_table(
    text: str, *, name: str = "the CSV", min_rows: int = MIN_ROWS
) -> dict[str, list[str]]:
    """CSV text with a header line as columns of cell texts."""
    csv.field_size_limit(MAX_CELL)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise TableFileError(f"{name} is empty: a header line naming the columns is needed")
        header = [cell.strip() for cell in header]
        if len(header) > MAX_COLUMNS:
            raise TableFileError(f"{name} has {len(header)} columns; at most {MAX_COLUMNS}")
        if "" in header:
            raise TableFileError(f"{name}: column {header.index('') + 1} has no name in the header")
        duplicates = sorted({h for h in header if header.count(h) > 1})
        if duplicates:
            raise TableFileError(f"{name}: the header repeats {', '.join(map(repr, duplicates))}")
        columns: list[list[str]] = [[] for _ in header]
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                raise TableFileError(
                    f"{name}, line {reader.line_num}: {len(row)} fields, the header has {len(header)}"
                )
            if len(columns[0]) >= MAX_ROWS:
                raise TableFileError(f"{name} has more than {MAX_ROWS:,} rows")
            for cells, cell in zip(columns, row, strict=True):
                cells.append(cell)
    except csv.Error as exc:
        raise TableFileError(f"{name}, line {reader.line_num}: {exc}") from None
    if len(columns[0]) < min_rows:
        raise TableFileError(f"{name} has {len(columns[0])} rows; at least {min_rows} are needed")
    return dict(zip(header, columns, strict=True))


def write_table(table: Mapping[str, Sequence[str]], path: Path | None = None) -> str:
    """The table as CSV text (LF line ends), also written to `path` if given."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(list(table))
    writer.writerows(zip(*table.values(), strict=True))
    text = buffer.getvalue()
    if path is not None:
        path.write_text(text, encoding="utf-8")
    return text


def save_model(model: CopulaModel, path: Path) -> int:
    """Write the model as JSON; returns the number of bytes."""
    data = orjson.dumps(model.to_dict())
    path.write_bytes(data)
    return len(data)


def load_model(path: Path) -> CopulaModel:
    """Read and check a model file; ModelError says what is wrong with it."""
    try:
        size = path.stat().st_size
        if size > MAX_MODEL_BYTES:
            raise ModelError(
                f"{path} is {size:,} bytes; a model may have at most {MAX_MODEL_BYTES:,}"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc.strerror}") from None
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ModelError(f"{path} is not a JSON model file: {exc}") from None
    return model_from_dict(raw)
