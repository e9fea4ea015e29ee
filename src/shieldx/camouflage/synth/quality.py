"""The realism score: per-column SDMetrics-style similarity to the targets, and their mean."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from shieldx.camouflage.synth.base import Chunk, Kind, Value
from shieldx.camouflage.synth.checks import ColumnScore, Table
from shieldx.camouflage.synth.synthesizer import Synthesizer


@dataclass(frozen=True)
class QualityReport:
    """Per-column scores and the overall score (their mean, SDMetrics' "Column Shapes")."""

    kind: Kind
    count: int
    seed: int | None
    columns: tuple[ColumnScore, ...]

    @property
    def overall(self) -> float:
        """The mean of the column scores."""
        return sum(column.score for column in self.columns) / len(self.columns)

    def score_of(self, column: str) -> float:
        """The score of one column by name."""
        for scored in self.columns:
            if scored.column == column:
                return scored.score
        raise KeyError(f"no score for column {column!r}")

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view."""
        return {
            "kind": self.kind.value,
            "count": self.count,
            "seed": self.seed,
            "overall": round(self.overall, 4),
            "columns": [column.to_dict() for column in self.columns],
        }


def collect(chunks: Iterable[Chunk], progress: Callable[[int], None] | None = None) -> Table:
    """Concatenate column chunks into one table (the KS statistics need every value)."""
    table: dict[str, list[Value]] = {}
    for chunk in chunks:
        for name, values in chunk.items():
            table.setdefault(name, []).extend(values)
        if progress is not None:
            progress(len(next(iter(chunk.values()), ())))
    return table


def score_table(
    kind: Kind | str,
    table: Table,
    *,
    seed: int | None = None,
    synthesizer: Synthesizer | None = None,
) -> QualityReport:
    """Score any table of `kind` (generated or not) against that kind's targets."""
    generator = (synthesizer or Synthesizer()).generator(kind)
    count = len(next(iter(table.values()), ()))
    if count < 2:
        raise ValueError(f"a quality score needs at least 2 records (got {count})")
    scores = tuple(check.score(table) for check in generator.checks())
    return QualityReport(generator.kind, count, seed, scores)


def score_quality(
    kind: Kind | str,
    *,
    count: int,
    seed: int = 0,
    synthesizer: Synthesizer | None = None,
    progress: Callable[[int], None] | None = None,
) -> QualityReport:
    """Generate `count` records of `kind` with `seed` and score them against the targets.

    `progress` is called with the number of records generated since its last call.
    """
    synthesizer = synthesizer or Synthesizer()
    table = collect(synthesizer.chunks(kind, seed=seed, count=count), progress)
    return score_table(kind, table, seed=seed, synthesizer=synthesizer)
