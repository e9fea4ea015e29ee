"""Per-column quality checks: each compares generated values with a stated reference."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from shieldx.camouflage.synth.base import Value, parse_iso
from shieldx.camouflage.synth.corpora import Corpus
from shieldx.camouflage.synth.distributions import Distribution
from shieldx.camouflage.synth.metrics import (
    Cdf,
    bigram_tv_complement,
    continuous_ks_statistic,
    grid_ks_statistic,
    novelty,
    poisson_pit,
    total_variation,
    two_sample_ks_statistic,
)

Table = Mapping[str, Sequence[Value]]
Extract = Callable[[Table], Sequence[Value]]
ColumnKind = Literal["numerical", "categorical", "text"]
# The randomised PIT needs its own uniforms; fixing them keeps a report reproducible.
PIT_SEED = 0


@dataclass(frozen=True)
class ColumnScore:
    """One column's score: what was compared, how, and against which reference."""

    column: str
    kind: ColumnKind
    metric: str
    score: float
    reference: str
    details: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view."""
        return {
            "column": self.column,
            "kind": self.kind,
            "metric": self.metric,
            "score": round(self.score, 4),
            "reference": self.reference,
            "details": {key: round(value, 4) for key, value in self.details.items()},
        }


class ColumnCheck(ABC):
    """Scores one column of a generated table."""

    column: str
    extract: Extract | None

    @abstractmethod
    def score(self, table: Table) -> ColumnScore:
        """Compare the column's values in `table` with the reference."""

    def values(self, table: Table) -> Sequence[Value]:
        """The values this check scores: the named column, or what `extract` derives."""
        return self.extract(table) if self.extract is not None else table[self.column]

    def present(self, table: Table) -> list[Value]:
        """The non-null values, or an error saying that more records are needed."""
        values: list[Value] = [value for value in self.values(table) if value is not None]
        if not values:
            raise ValueError(f"no values to score for {self.column!r}: score more records")
        return values

    def numbers(self, table: Table) -> NDArray[np.float64]:
        """The non-null values as floats."""
        return np.array(self.present(table), dtype=np.float64)


@dataclass(frozen=True)
class GridCheck(ColumnCheck):
    """KSComplement against the exact CDF of a target emitted on a grid of `step`."""

    column: str
    cdf: Cdf
    step: float
    reference: str
    extract: Extract | None = None

    @classmethod
    def of(cls, column: str, target: Distribution, extract: Extract | None = None) -> GridCheck:
        """A check against one of our target distributions."""
        return cls(column, target.cdf, target.grid.step, f"target {target.describe()}", extract)

    def score(self, table: Table) -> ColumnScore:
        """1 - D, with D the exact discrete KS statistic."""
        statistic = grid_ks_statistic(self.numbers(table), self.cdf, self.step)
        return ColumnScore(self.column, "numerical", "KSComplement", 1 - statistic, self.reference)


@dataclass(frozen=True)
class ContinuousCheck(ColumnCheck):
    """KSComplement against a continuous target CDF (scipy.stats.kstest)."""

    column: str
    cdf: Cdf
    reference: str
    extract: Extract | None = None

    def score(self, table: Table) -> ColumnScore:
        """1 - D."""
        statistic = continuous_ks_statistic(self.numbers(table), self.cdf)
        return ColumnScore(self.column, "numerical", "KSComplement", 1 - statistic, self.reference)


@dataclass(frozen=True)
class CategoryCheck(ColumnCheck):
    """TVComplement against target category probabilities."""

    column: str
    target: Mapping[Any, float]
    reference: str
    extract: Extract | None = None

    def score(self, table: Table) -> ColumnScore:
        """1 - total variation distance."""
        distance = total_variation(self.values(table), self.target)
        return ColumnScore(self.column, "categorical", "TVComplement", 1 - distance, self.reference)


@dataclass(frozen=True)
class TextCheck(ColumnCheck):
    """Character-bigram TVComplement against the training corpus, with novelty alongside."""

    column: str
    corpus: Corpus
    extract: Extract | None = None

    def score(self, table: Table) -> ColumnScore:
        """Bigram TVComplement; details give the share of names not copied from the corpus."""
        words = [str(v) for v in self.present(table)]
        details = {"novelty": novelty(words, self.corpus.words)}
        details["distinct_share"] = len(set(words)) / len(words)
        score = bigram_tv_complement(words, self.corpus.words)
        return ColumnScore(
            self.column,
            "text",
            "BigramTVComplement",
            score,
            f"{self.corpus.source}: character bigrams",
            MappingProxyType(details),
        )


@dataclass(frozen=True)
class LengthCheck(ColumnCheck):
    """KSComplement of word lengths against the corpus's lengths (a bundled reference sample)."""

    column: str
    corpus: Corpus
    extract: Extract | None = None

    def score(self, table: Table) -> ColumnScore:
        """1 - D of the two-sample KS test (scipy.stats.ks_2samp)."""
        lengths = [len(str(v)) for v in self.present(table)]
        statistic = two_sample_ks_statistic(lengths, [len(word) for word in self.corpus.words])
        reference = f"reference sample: word lengths in {self.corpus.source}"
        return ColumnScore(
            f"{self.column}.length", "numerical", "KSComplement", 1 - statistic, reference
        )


@dataclass(frozen=True)
class PoissonCheck(ColumnCheck):
    """KSComplement of the randomised PIT of counts under row-specific Poisson rates."""

    column: str
    rates: Callable[[Table], NDArray[np.float64]]
    offset: int
    reference: str
    extract: Extract | None = None

    def score(self, table: Table) -> ColumnScore:
        """1 - D of the PIT values against Uniform(0, 1)."""
        counts = self.numbers(table) - self.offset
        pit = poisson_pit(counts, self.rates(table), np.random.default_rng(PIT_SEED))
        statistic = continuous_ks_statistic(pit, _uniform_cdf)
        return ColumnScore(self.column, "numerical", "KSComplement", 1 - statistic, self.reference)


def _uniform_cdf(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """CDF of Uniform(0, 1)."""
    return np.clip(x, 0.0, 1.0)


def arrival_gap_check(column: str, mean_gap: float) -> ContinuousCheck:
    """Gaps between consecutive timestamps against the Exponential of a Poisson process."""

    def cdf(x: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(-np.expm1(-np.maximum(x, 0.0) / mean_gap), dtype=np.float64)

    def gaps(table: Table) -> list[float]:
        return list((np.diff(parse_iso(table[column])) / 1e6).tolist())

    reference = f"target Exponential(mean={mean_gap:g} s): gaps of a Poisson process"
    return ContinuousCheck(f"{column}.gap", cdf, reference, gaps)
