"""The entry points: one trained generator per kind, and deterministic records for a seed."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType

from shieldx.camouflage.synth.base import Chunk, Kind, Record, RecordGenerator
from shieldx.camouflage.synth.traffic import FlowGenerator
from shieldx.camouflage.synth.transactions import TransactionGenerator
from shieldx.camouflage.synth.users import UserGenerator

BUILDERS: Mapping[Kind, Callable[[], RecordGenerator]] = MappingProxyType(
    {
        Kind.USERS: UserGenerator.bundled,
        Kind.TRANSACTIONS: TransactionGenerator.bundled,
        Kind.TRAFFIC: FlowGenerator.bundled,
    }
)
COLUMNS: Mapping[Kind, tuple[str, ...]] = MappingProxyType(
    {
        Kind.USERS: UserGenerator.columns,
        Kind.TRANSACTIONS: TransactionGenerator.columns,
        Kind.TRAFFIC: FlowGenerator.columns,
    }
)


def columns_of(kind: Kind | str) -> tuple[str, ...]:
    """The stable column order of a kind (the CSV header), without training anything."""
    return COLUMNS[Kind.parse(kind)]


class Synthesizer:
    """Trains each kind's Markov chains once, on first use; keep one to generate repeatedly."""

    def __init__(self) -> None:
        self._generators: dict[Kind, RecordGenerator] = {}

    def generator(self, kind: Kind | str) -> RecordGenerator:
        """The generator for `kind`, built (and its chains trained) the first time."""
        parsed = Kind.parse(kind)
        if parsed not in self._generators:
            self._generators[parsed] = BUILDERS[parsed]()
        return self._generators[parsed]

    def chunks(self, kind: Kind | str, *, seed: int, count: int) -> Iterator[Chunk]:
        """Column chunks (at most CHUNK_SIZE rows each) for `count` records of `kind`."""
        return self.generator(kind).iter_chunks(seed=seed, count=count)

    def records(self, kind: Kind | str, *, seed: int, count: int) -> Iterator[Record]:
        """`count` records of `kind` as dicts, streamed; the same seed gives the same records."""
        return self.generator(kind).iter_records(seed=seed, count=count)


def synth_records(
    kind: Kind | str, *, seed: int, count: int, synthesizer: Synthesizer | None = None
) -> list[Record]:
    """A few records for a seed, e.g. a maze page's seed derived from (decoy secret, path).

    The first m records for a seed do not depend on `count`. Without a `synthesizer` the
    chains are trained on each call (about 30 ms for users); pass one to reuse them.
    """
    return list((synthesizer or Synthesizer()).records(kind, seed=seed, count=count))
