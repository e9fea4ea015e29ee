"""JSON-lines and CSV output with a stable column order, batched, with a progress callback."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import IO, Literal

import orjson

from shieldx.camouflage.synth.base import Kind, Record, Value
from shieldx.camouflage.synth.synthesizer import Synthesizer, columns_of

Format = Literal["jsonl", "csv"]
FORMATS: tuple[Format, ...] = ("jsonl", "csv")
Progress = Callable[[int], None]
BATCH = 4096


def _batches(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    """Consecutive lists of at most `size` records."""
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch


def write_jsonl(
    records: Iterable[Record], out: IO[bytes], *, progress: Progress | None = None
) -> int:
    """One JSON object per line, keys in record order; returns the number of records."""
    written = 0
    for batch in _batches(records, BATCH):
        out.write(b"".join(orjson.dumps(record) + b"\n" for record in batch))
        written += len(batch)
        if progress is not None:
            progress(len(batch))
    return written


def csv_row(values: Iterable[Value]) -> list[Value]:
    """CSV cells: lower-case true/false as in JSON; None becomes an empty cell (csv's own rule)."""
    return ["true" if v is True else "false" if v is False else v for v in values]


def write_csv(
    records: Iterable[Record],
    out: IO[bytes],
    *,
    columns: Sequence[str],
    progress: Progress | None = None,
) -> int:
    """A header line, then one row per record in `columns` order (RFC 4180 quoting, LF ends)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    names = list(columns)
    out.write(buffer.getvalue().encode("utf-8"))
    written = 0
    for batch in _batches(records, BATCH):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(csv_row([record[name] for name in names]) for record in batch)
        out.write(buffer.getvalue().encode("utf-8"))
        written += len(batch)
        if progress is not None:
            progress(len(batch))
    return written


def write_records(
    records: Iterable[Record],
    out: IO[bytes],
    *,
    fmt: Format,
    columns: Sequence[str],
    progress: Progress | None = None,
) -> int:
    """Write records in `fmt` ("jsonl" or "csv"); returns the number written."""
    if fmt == "jsonl":
        return write_jsonl(records, out, progress=progress)
    if fmt == "csv":
        return write_csv(records, out, columns=columns, progress=progress)
    raise ValueError(f"format must be one of {', '.join(FORMATS)} (got {fmt!r})")


@contextmanager
def open_output(path: str | Path | None) -> Iterator[IO[bytes]]:
    """A binary stream to `path`, or to standard output when path is None or "-"."""
    if path is None or str(path) == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    with Path(path).open("wb") as stream:
        yield stream


def write_synth(
    kind: Kind | str,
    *,
    seed: int,
    count: int,
    fmt: Format = "jsonl",
    path: str | Path | None = None,
    progress: Progress | None = None,
    synthesizer: Synthesizer | None = None,
) -> int:
    """Generate `count` records of `kind` and write them to `path` (stdout when None)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)} (got {fmt!r})")
    records = (synthesizer or Synthesizer()).records(kind, seed=seed, count=count)
    with open_output(path) as out:
        return write_records(records, out, fmt=fmt, columns=columns_of(kind), progress=progress)
