"""Target distributions: each draws with numpy and knows the exact CDF of what it emits.

numpy's samplers (ziggurat normal and exponential, its Poisson and Pareto, PCG64 bits)
replace the seed's hand-written Box-Muller, inverse-transform and Knuth algorithms: they
are faster when vectorised, numerically tested, and Knuth's Poisson is O(lambda) per draw.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Generic, Literal, TypeVar, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special  # type: ignore[import-untyped]

T = TypeVar("T", bound=Hashable)
FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Categorical(Generic[T]):
    """Weighted categories, drawn with one uniform per row."""

    weights: Mapping[T, float]
    values: tuple[T, ...] = field(init=False)
    cumulative: FloatArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        total = sum(self.weights.values())
        if not self.weights or total <= 0 or min(self.weights.values()) < 0:
            raise ValueError("categorical weights must be non-negative and sum to more than 0")
        cumulative = np.cumsum(list(self.weights.values())) / total
        cumulative[-1] = 1.0
        cumulative.flags.writeable = False
        object.__setattr__(self, "weights", MappingProxyType(dict(self.weights)))
        object.__setattr__(self, "values", tuple(self.weights))
        object.__setattr__(self, "cumulative", cumulative)

    def probabilities(self) -> dict[T, float]:
        """The target probability of each value (weights normalised)."""
        total = sum(self.weights.values())
        return {value: weight / total for value, weight in self.weights.items()}

    def pick(self, uniforms: FloatArray) -> NDArray[np.int64]:
        """Map uniforms in [0, 1) to indices into `values`."""
        return np.searchsorted(self.cumulative, uniforms, side="right").astype(np.int64)

    def sample(self, rng: np.random.Generator, count: int) -> list[T]:
        """Draw `count` values."""
        return [self.values[i] for i in self.pick(rng.random(count)).tolist()]


@dataclass(frozen=True, eq=False)
class Conditional(Generic[T]):
    """A categorical whose weights depend on the value of a parent column."""

    children: Mapping[Hashable, Categorical[T]]

    def __post_init__(self) -> None:
        object.__setattr__(self, "children", MappingProxyType(dict(self.children)))

    def sample(self, rng: np.random.Generator, parents: Sequence[Hashable]) -> list[T]:
        """Draw one child per parent value, one uniform per row."""
        uniforms = rng.random(len(parents))
        rows_by_parent: dict[Hashable, list[int]] = {}
        for row, parent in enumerate(parents):
            rows_by_parent.setdefault(parent, []).append(row)
        out = np.empty(len(parents), dtype=object)
        for parent, rows in rows_by_parent.items():
            child = self.children.get(parent)
            if child is None:
                raise ValueError(f"no child distribution for parent value {parent!r}")
            out[rows] = np.array(child.values, dtype=object)[child.pick(uniforms[rows])]
        return cast("list[T]", out.tolist())

    def marginal(self, parent: Mapping[Any, float]) -> dict[T, float]:
        """The child's marginal probabilities: the sum over parents of P(parent) P(child|parent)."""
        result: dict[T, float] = {}
        for value, weight in parent.items():
            for child, probability in self.children[value].probabilities().items():
                result[child] = result.get(child, 0.0) + weight * probability
        return result


@dataclass(frozen=True)
class Grid:
    """How raw draws become emitted values: quantised to `step`, then clipped to [low, high]."""

    step: float
    low: float = -math.inf
    high: float = math.inf
    rounding: Literal["nearest", "floor"] = "nearest"

    def apply(self, raw: FloatArray) -> FloatArray:
        """Quantise and clip raw draws exactly as the generators emit them."""
        scaled = raw / self.step
        steps = np.floor(scaled) if self.rounding == "floor" else np.rint(scaled)
        decimals = max(0, -math.floor(math.log10(self.step)))
        clipped = np.clip(np.round(steps * self.step, decimals), self.low, self.high)
        return np.asarray(clipped, dtype=np.float64)

    def upper_edge(self, values: FloatArray) -> FloatArray:
        """The raw value below which a draw is emitted as `values` or less."""
        return values + (self.step if self.rounding == "floor" else self.step / 2)


class Distribution(ABC):
    """A numeric target: raw draws with numpy, emitted values on a grid, and their exact CDF."""

    grid: Grid

    @abstractmethod
    def raw(self, rng: np.random.Generator, count: int) -> FloatArray:
        """Continuous draws before quantising and clipping."""

    @abstractmethod
    def raw_cdf(self, x: FloatArray) -> FloatArray:
        """P(raw draw <= x)."""

    @abstractmethod
    def describe(self) -> str:
        """A short human description, used as the quality report's reference."""

    def sample(self, rng: np.random.Generator, count: int) -> FloatArray:
        """Draw `count` emitted values."""
        return self.grid.apply(self.raw(rng, count))

    def cdf(self, values: ArrayLike) -> FloatArray:
        """P(emitted value <= v) for grid values v: quantising and clipping included."""
        v = np.asarray(values, dtype=np.float64)
        half = self.grid.step / 2
        result = np.clip(self.raw_cdf(self.grid.upper_edge(v)), 0.0, 1.0)
        result = np.where(v < self.grid.low - half, 0.0, result)
        return np.where(v >= self.grid.high - half, 1.0, result)


@dataclass(frozen=True)
class Normal(Distribution):
    """Normal(mean, sd) on a grid, usually clipped."""

    mean: float
    sd: float
    grid: Grid

    def raw(self, rng: np.random.Generator, count: int) -> FloatArray:
        """Continuous draws."""
        return rng.normal(self.mean, self.sd, count)

    def raw_cdf(self, x: FloatArray) -> FloatArray:
        """P(raw draw <= x)."""
        return np.asarray(special.ndtr((x - self.mean) / self.sd), dtype=np.float64)

    def describe(self) -> str:
        """A short description."""
        return f"Normal(mean={self.mean:g}, sd={self.sd:g}){_grid_text(self.grid)}"


@dataclass(frozen=True)
class Exponential(Distribution):
    """Exponential with the given mean on a grid."""

    mean: float
    grid: Grid

    def raw(self, rng: np.random.Generator, count: int) -> FloatArray:
        """Continuous draws."""
        return rng.exponential(self.mean, count)

    def raw_cdf(self, x: FloatArray) -> FloatArray:
        """P(raw draw <= x)."""
        return np.asarray(-np.expm1(-np.maximum(x, 0.0) / self.mean), dtype=np.float64)

    def describe(self) -> str:
        """A short description."""
        return f"Exponential(mean={self.mean:g}){_grid_text(self.grid)}"


@dataclass(frozen=True)
class LogNormal(Distribution):
    """LogNormal: log of the value is Normal(log(median), sigma)."""

    median: float
    sigma: float
    grid: Grid

    def raw(self, rng: np.random.Generator, count: int) -> FloatArray:
        """Continuous draws."""
        return rng.lognormal(math.log(self.median), self.sigma, count)

    def raw_cdf(self, x: FloatArray) -> FloatArray:
        """P(raw draw <= x)."""
        with np.errstate(divide="ignore"):
            z = (np.log(np.maximum(x, 0.0)) - math.log(self.median)) / self.sigma
        return np.asarray(special.ndtr(z), dtype=np.float64)

    def describe(self) -> str:
        """A short description."""
        return f"LogNormal(median={self.median:g}, sigma={self.sigma:g}){_grid_text(self.grid)}"


@dataclass(frozen=True)
class Pareto(Distribution):
    """Pareto type I with shape alpha and scale (minimum) x_m."""

    alpha: float
    minimum: float
    grid: Grid

    def raw(self, rng: np.random.Generator, count: int) -> FloatArray:
        """Continuous draws."""
        # numpy's pareto() is Lomax (Pareto II); 1 + Lomax scaled by x_m is Pareto I.
        return self.minimum * (1.0 + rng.pareto(self.alpha, count))

    def raw_cdf(self, x: FloatArray) -> FloatArray:
        """P(raw draw <= x)."""
        ratio = self.minimum / np.maximum(x, self.minimum)
        return 1.0 - ratio**self.alpha

    def describe(self) -> str:
        """A short description."""
        return f"Pareto(alpha={self.alpha:.4f}, x_m={self.minimum:g}){_grid_text(self.grid)}"


@dataclass(frozen=True)
class Uniform(Distribution):
    """Uniform on [low, high)."""

    low: float
    high: float
    grid: Grid

    def raw(self, rng: np.random.Generator, count: int) -> FloatArray:
        """Continuous draws."""
        return rng.uniform(self.low, self.high, count)

    def raw_cdf(self, x: FloatArray) -> FloatArray:
        """P(raw draw <= x)."""
        return np.clip((x - self.low) / (self.high - self.low), 0.0, 1.0)

    def describe(self) -> str:
        """A short description."""
        return f"Uniform({self.low:.10g}, {self.high:.10g}){_grid_text(self.grid)}"


def _grid_text(grid: Grid) -> str:
    """Describe quantising and clipping for a report."""
    parts = [f"{'floored' if grid.rounding == 'floor' else 'rounded'} to {grid.step:g}"]
    if math.isfinite(grid.low) and math.isfinite(grid.high):
        parts.append(f"clipped to [{grid.low:.10g}, {grid.high:.10g}]")
    elif math.isfinite(grid.high):
        parts.append(f"capped at {grid.high:.10g}")
    elif math.isfinite(grid.low):
        parts.append(f"at least {grid.low:.10g}")
    return ", " + ", ".join(parts)
