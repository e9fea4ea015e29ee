"""What every record generator shares: kinds, seeded streams, chunked iteration, timestamps."""

from __future__ import annotations

import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from shieldx.camouflage.synth.checks import ColumnCheck

Value = str | int | float | bool | None
Record = dict[str, Value]
Chunk = dict[str, Sequence[Value]]

# Part of the output's definition: streams are keyed by chunk index, so changing this
# changes every dataset. Within a chunk each column draws row by row, which makes the
# first m records of a run the same whatever count was asked for.
CHUNK_SIZE = 8192
# Stream key for draws made once per run (a start time), never a real chunk index.
RUN_STREAM = 2**32 - 1


class Kind(StrEnum):
    """The kinds of synthetic records."""

    USERS = "users"
    TRANSACTIONS = "transactions"
    TRAFFIC = "traffic"

    @classmethod
    def parse(cls, value: str) -> Kind:
        """The kind named by `value`, or an error listing the valid names."""
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(kind.value for kind in cls)
            raise ValueError(f"kind must be one of {names} (got {value!r})") from None


@dataclass(frozen=True)
class Streams:
    """Independent PCG64 streams for one chunk of one run, one per column name."""

    seed: int
    kind: Kind
    chunk: int

    def column(self, name: str) -> np.random.Generator:
        """The stream for column `name` in this chunk."""
        return self._stream(self.chunk, name)

    def run(self, name: str) -> np.random.Generator:
        """A stream shared by every chunk of the run (for per-run draws such as a start time)."""
        return self._stream(RUN_STREAM, name)

    def _stream(self, chunk: int, name: str) -> np.random.Generator:
        """PCG64 keyed by (seed; kind, chunk, column) through numpy's SeedSequence."""
        key = (zlib.crc32(self.kind.value.encode()), chunk, zlib.crc32(name.encode()))
        return np.random.Generator(
            np.random.PCG64(np.random.SeedSequence(self.seed, spawn_key=key))
        )


def check_seed_and_count(seed: int, count: int) -> None:
    """Reject seeds and counts that cannot define a dataset, saying what is expected."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer (got {seed!r})")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"count must be a non-negative integer (got {count!r})")


class RecordGenerator(ABC):
    """Generates one kind of record, chunk by chunk, from a seed."""

    kind: ClassVar[Kind]
    columns: ClassVar[tuple[str, ...]]

    @abstractmethod
    def chunk(self, streams: Streams, first: int, size: int, clock: float) -> tuple[Chunk, float]:
        """Columns for records first..first+size-1; `clock` carries run time between chunks."""

    @abstractmethod
    def checks(self) -> tuple[ColumnCheck, ...]:
        """The quality checks of this kind's columns against their targets."""

    def iter_chunks(self, *, seed: int, count: int) -> Iterator[Chunk]:
        """Column chunks of at most CHUNK_SIZE records until `count` are made (checked now)."""
        check_seed_and_count(seed, count)
        return self._chunks(seed, count)

    def _chunks(self, seed: int, count: int) -> Iterator[Chunk]:
        """The lazy part of iter_chunks: one chunk per step, the clock carried along."""
        clock = 0.0
        for index, first in enumerate(range(0, count, CHUNK_SIZE)):
            size = min(CHUNK_SIZE, count - first)
            chunk, clock = self.chunk(Streams(seed, self.kind, index), first, size, clock)
            yield chunk

    def iter_records(self, *, seed: int, count: int) -> Iterator[Record]:
        """`count` records as dicts with keys in `columns` order (arguments checked now)."""
        return self._records(self.iter_chunks(seed=seed, count=count))

    def _records(self, chunks: Iterator[Chunk]) -> Iterator[Record]:
        """Rows of the chunks as dicts."""
        for chunk in chunks:
            for row in zip(*(chunk[name] for name in self.columns), strict=True):
                yield dict(zip(self.columns, row, strict=True))


def poisson_arrivals(
    rng: np.random.Generator, size: int, clock: float, mean_gap: float
) -> tuple[NDArray[np.float64], float]:
    """Arrival times (seconds into the run) of a Poisson process, and the clock after them."""
    times = clock + np.cumsum(rng.exponential(mean_gap, size))
    return times, float(times[-1]) if size else clock


def run_start(streams: Streams, window_start: int, window_seconds: int) -> int:
    """A start time (epoch seconds) for the whole run, uniform in the window, set by the seed."""
    return window_start + int(streams.run("start").integers(0, window_seconds))


def iso_seconds(epoch_seconds: NDArray[np.int64]) -> list[str]:
    """Format epoch seconds as ISO 8601 UTC ('2024-05-01T12:00:00Z')."""
    stamps = epoch_seconds.astype("datetime64[s]")
    return list(np.datetime_as_string(stamps, unit="s", timezone="UTC").tolist())


def iso_micros(epoch_micros: NDArray[np.int64]) -> list[str]:
    """Format epoch microseconds as ISO 8601 UTC ('2024-05-01T12:00:00.123456Z')."""
    stamps = epoch_micros.astype("datetime64[us]")
    return list(np.datetime_as_string(stamps, unit="us", timezone="UTC").tolist())


def parse_iso(values: Sequence[Value]) -> NDArray[np.int64]:
    """Epoch microseconds of ISO 8601 UTC strings made by iso_seconds or iso_micros."""
    naive = [str(value).removesuffix("Z") for value in values]
    return np.array(naive, dtype="datetime64[us]").astype(np.int64)
