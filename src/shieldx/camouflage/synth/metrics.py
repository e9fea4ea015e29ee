"""Similarity statistics with SDMetrics' definitions (KSComplement, TVComplement), and for text."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats  # type: ignore[import-untyped]

FloatArray = NDArray[np.float64]
Cdf = Callable[[FloatArray], FloatArray]


def grid_ks_statistic(values: ArrayLike, cdf: Cdf, step: float) -> float:
    """Exact Kolmogorov-Smirnov D of values on a grid of `step` against that grid's CDF.

    scipy's kstest assumes a continuous target and overstates D when values repeat (ages,
    cents, byte counts). Both step functions jump only at grid points, so the supremum is
    reached at a sampled value or at the grid point just below one.
    """
    sample = np.asarray(values, dtype=np.float64)
    if sample.size == 0:
        raise ValueError("the KS statistic needs at least one value")
    points, counts = np.unique(sample, return_counts=True)
    at = np.cumsum(counts) / sample.size
    below = at - counts / sample.size
    return float(
        max(
            np.max(np.abs(at - cdf(points))),
            np.max(np.abs(below - cdf(points - step))),
        )
    )


def continuous_ks_statistic(values: ArrayLike, cdf: Cdf) -> float:
    """Kolmogorov-Smirnov D of values against a continuous CDF (scipy.stats.kstest)."""
    sample = np.asarray(values, dtype=np.float64)
    if sample.size == 0:
        raise ValueError("the KS statistic needs at least one value")
    return float(stats.kstest(sample, cdf).statistic)


def two_sample_ks_statistic(values: ArrayLike, reference: ArrayLike) -> float:
    """Kolmogorov-Smirnov D between a sample and a reference sample (scipy.stats.ks_2samp)."""
    return float(stats.ks_2samp(np.asarray(values), np.asarray(reference)).statistic)


def total_variation(observed: Iterable[Hashable], target: Mapping[Any, float]) -> float:
    """Total variation distance: half the L1 distance between frequencies and target."""
    counts = Counter(observed)
    total = sum(counts.values())
    if total == 0:
        raise ValueError("total variation needs at least one observed value")
    target_total = math.fsum(target.values())
    categories = dict.fromkeys([*counts, *target])
    # fsum is exactly rounded, so the result does not depend on the categories' order.
    return 0.5 * math.fsum(
        abs(counts.get(category, 0) / total - target.get(category, 0.0) / target_total)
        for category in categories
    )


def bigram_distribution(words: Sequence[str]) -> dict[str, float]:
    """Relative frequency of each character bigram, with a boundary mark at both ends."""
    joined = "\0" + "\0".join(words) + "\0"
    codes = np.frombuffer(joined.encode("utf-8"), dtype=np.uint8).astype(np.int64)
    pairs = np.bincount(codes[:-1] * 256 + codes[1:], minlength=256 * 256)
    pairs[0] = 0  # "\0\0" only appears for an empty word, which is not a bigram
    present = np.flatnonzero(pairs)
    total = pairs.sum()
    return {
        chr(code >> 8) + chr(code & 0xFF): float(pairs[code] / total) for code in present.tolist()
    }


def bigram_tv_complement(words: Sequence[str], corpus: Sequence[str]) -> float:
    """1 - total variation between the character-bigram distributions of words and corpus."""
    generated, reference = bigram_distribution(words), bigram_distribution(corpus)
    keys = generated.keys() | reference.keys()
    distance = 0.5 * math.fsum(abs(generated.get(k, 0.0) - reference.get(k, 0.0)) for k in keys)
    return 1.0 - distance


def novelty(words: Sequence[str], corpus: Iterable[str]) -> float:
    """Share of generated words that are not verbatim copies of a corpus entry."""
    if not words:
        raise ValueError("novelty needs at least one word")
    known = set(corpus)
    return sum(word not in known for word in words) / len(words)


def poisson_pit(
    counts: ArrayLike, rates: ArrayLike, rng: np.random.Generator
) -> NDArray[np.float64]:
    """Randomised probability integral transform of counts under Poisson(rates).

    If count_i ~ Poisson(rate_i) independently, the result is exactly Uniform(0, 1), so a
    KS test against the uniform checks a Poisson whose rate differs from row to row.
    """
    k = np.asarray(counts, dtype=np.float64)
    lam = np.asarray(rates, dtype=np.float64)
    below = np.where(k > 0, special.pdtr(np.maximum(k - 1, 0), lam), 0.0)
    at = special.pdtr(k, lam)
    return np.asarray(below + rng.random(k.size) * (at - below), dtype=np.float64)
