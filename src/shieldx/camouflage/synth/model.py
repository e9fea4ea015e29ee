"""A Gaussian copula fitted to a sample table: marginals per column, correlations between them.

Pure: tables in (column name -> cell texts), tables out; no files. The method (as in SDV's
GaussianCopulaSynthesizer, written here with numpy and scipy because copulas, RDT and SDV are
under the Business Source License and this project is Apache-2.0, and because the model must
be a plain JSON file that can be shared and checked, not a pickle):

1. Each learned column becomes uniforms: numbers by rank ((rank - 1/2) / n); categories,
   booleans and numbers with few distinct values (DISCRETE_MAX) by a uniform drawn inside the
   value's interval of the cumulative frequencies (categories ordered by frequency, numbers by
   value). Missing numbers get an independent uniform.
2. Normal scores z = Phi^-1(u); their correlation matrix (made positive definite) is the copula.
3. Sampling draws correlated normals, maps them back through Phi and each marginal's inverse:
   numbers by interpolating QUANTILES quantiles of the sample (so values fall between real
   ones, rounded to the sample's precision), discrete columns by their cumulative weights.

Privacy: categories seen once are not learned; identifiers and free text keep only their
shape (shapes.py); the model keeps a keyed 32-bit hash of each real row's learned columns so
that sampling can reject a generated row equal to a real one (a hash, not the row: a value
space too large to enumerate stays hidden, and 32 bits make a match weak evidence).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import special, stats  # type: ignore[import-untyped]

from shieldx.camouflage.synth.columns import (
    ColumnType,
    DatetimeFormat,
    boolean_pair,
    detect_datetime,
    detect_type,
    float_decimals,
)
from shieldx.camouflage.synth.fields import Fields, ModelError
from shieldx.camouflage.synth.privacy import (
    decode_fingerprints,
    encode_fingerprints,
    fingerprints,
    hash_keys,
    row_keys,
)
from shieldx.camouflage.synth.shapes import Shape, fit_identifier, fit_text, shape_from_dict

FORMAT = "shieldx.synth.copula"
VERSION = 1
MIN_ROWS = 10
MAX_ROWS = 1_000_000
MAX_COLUMNS = 256
MAX_CATEGORIES = 1000
QUANTILES = 201
DISCRETE_MAX = 25
MIN_CATEGORY_COUNT = 2
# Generated rows may be rejected as copies up to this many times the count asked for.
MAX_DRAWS_FACTOR = 20
EPSILON = 1e-9

FloatArray = NDArray[np.float64]
Table = Mapping[str, Sequence[str]]


class SampleTooSmall(ValueError):
    """A sample that cannot be learned from; the message says why."""


@dataclass(frozen=True)
class Marginal:
    """One learned column's distribution: interpolated quantiles, or discrete values."""

    kind: str  # "quantiles" or "discrete"
    values: tuple[float | str | None, ...]
    weights: tuple[float, ...] = ()
    cumulative: FloatArray = field(default_factory=lambda: np.zeros(0), repr=False)

    @classmethod
    def quantiles(cls, numbers: FloatArray) -> Marginal:
        """Quantiles of the numbers at evenly spaced probabilities."""
        probs = np.linspace(0.0, 1.0, min(QUANTILES, numbers.size))
        return cls("quantiles", tuple(float(q) for q in np.quantile(numbers, probs)))

    @classmethod
    def discrete(cls, counts: Mapping[float | str | None, float]) -> Marginal:
        """Values with weights, in the given order."""
        weights = np.array(list(counts.values()), dtype=np.float64)
        cumulative = np.cumsum(weights) / weights.sum()
        cumulative[-1] = 1.0
        return cls("discrete", tuple(counts), tuple(float(w) for w in weights), cumulative)

    def from_uniform(self, u: FloatArray) -> list[float | str | None]:
        """The values at uniforms `u` (the inverse of the marginal's CDF)."""
        if self.kind == "quantiles":
            knots = np.asarray(self.values, dtype=np.float64)
            probs = np.linspace(0.0, 1.0, knots.size)
            return list(np.interp(u, probs, knots).tolist())
        picks = np.searchsorted(self.cumulative, u, side="right")
        picks = np.minimum(picks, len(self.values) - 1)
        return [self.values[i] for i in picks.tolist()]

    def to_uniform(self, indices: NDArray[np.int64], rng: np.random.Generator) -> FloatArray:
        """Uniforms inside each value's interval (discrete marginals; -1 means unlearned)."""
        low = np.concatenate([[0.0], self.cumulative[:-1]])
        known = indices >= 0
        u = rng.random(indices.size)
        safe = np.where(known, indices, 0)
        inside = low[safe] + u * (self.cumulative[safe] - low[safe])
        return np.where(known, inside, rng.random(indices.size))

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view."""
        if self.kind == "quantiles":
            return {"kind": self.kind, "values": list(self.values)}
        return {"kind": self.kind, "values": list(self.values), "weights": list(self.weights)}


@dataclass(frozen=True)
class ColumnModel:
    """How one column is generated: its type, missing share and marginal or shape."""

    name: str
    type: ColumnType
    nulls: float
    marginal: Marginal | None = None
    shape: Shape | None = None
    unique: bool = False
    decimals: int = 0
    datetime: DatetimeFormat | None = None

    def format(self, values: Sequence[float | str | None]) -> list[str]:
        """Cells of generated values in the sample's notation."""
        if self.type is ColumnType.INTEGER:
            return ["" if v is None else str(round(float(v))) for v in values]
        if self.type is ColumnType.FLOAT:
            d = self.decimals
            return ["" if v is None else f"{round(float(v), d) + 0.0:.{d}f}" for v in values]
        if self.type is ColumnType.DATETIME and self.datetime is not None:
            fmt = self.datetime
            present = [float(v) for v in values if v is not None]
            texts = iter(fmt.format_many(present))
            return ["" if v is None else next(texts) for v in values]
        return ["" if v is None else str(v) for v in values]

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view."""
        return {
            "name": self.name,
            "type": self.type.value,
            "nulls": self.nulls,
            "unique": self.unique,
            "decimals": self.decimals,
            "datetime": None if self.datetime is None else self.datetime.to_dict(),
            "marginal": None if self.marginal is None else self.marginal.to_dict(),
            "shape": None if self.shape is None else self.shape.to_dict(),
        }


@dataclass(frozen=True)
class Generated:
    """Generated cells by column, and how many rows were rejected as copies of real ones."""

    table: dict[str, list[str]]
    rejected: int


@dataclass(frozen=True)
class CopulaModel:
    """Columns in sample order, the correlation of the learned ones, real rows' hashes."""

    rows: int
    columns: tuple[ColumnModel, ...]
    correlation: FloatArray
    salt: bytes
    hashes: NDArray[np.uint32]

    @property
    def learned(self) -> tuple[ColumnModel, ...]:
        """The columns in the copula, in order."""
        return tuple(c for c in self.columns if c.type.learned)

    @property
    def types(self) -> dict[str, ColumnType]:
        """Column name -> type."""
        return {c.name: c.type for c in self.columns}

    def sample(self, count: int, *, seed: int = 0) -> Generated:
        """`count` rows, none equal to a real row on the learned columns (seeded)."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"count must be a non-negative integer (got {count!r})")
        rng = np.random.default_rng(seed)
        factor = _factor(self.correlation)
        kept: dict[str, list[str]] = {c.name: [] for c in self.learned}
        have, drawn, rejected = 0, 0, 0
        while have < count:
            if drawn >= MAX_DRAWS_FACTOR * max(count, 50):
                raise ValueError(
                    f"rejected {rejected} of {drawn} generated rows as copies of real rows: "
                    "the learned columns have too few combinations beyond those in the sample "
                    "to make rows unlike every real one"
                )
            size = int((count - have) * 1.1) + 16
            drawn += size
            batch = self._learned_batch(rng, factor, size)
            mine = hash_keys(row_keys(batch, self.types), self.salt)
            fresh = ~np.isin(mine, self.hashes)
            rejected += int(size - fresh.sum())
            take = np.flatnonzero(fresh)[: count - have].tolist()
            for name, cells in batch.items():
                kept[name].extend(cells[i] for i in take)
            have += len(take)
        table: dict[str, list[str]] = {}
        for column in self.columns:
            table[column.name] = (
                kept[column.name]
                if column.type.learned
                else _fresh(column, rng, count, self.salt, self.hashes)
            )
        return Generated(table, rejected)

    def _learned_batch(
        self, rng: np.random.Generator, factor: FloatArray, size: int
    ) -> dict[str, list[str]]:
        """Cells of the learned columns for `size` candidate rows."""
        z = rng.standard_normal((size, factor.shape[0])) @ factor.T
        u = np.clip(special.ndtr(z), EPSILON, 1 - EPSILON)
        batch: dict[str, list[str]] = {}
        for j, column in enumerate(self.learned):
            assert column.marginal is not None
            values = column.marginal.from_uniform(u[:, j])
            if column.marginal.kind == "quantiles" or column.type.numeric:
                missing = rng.random(size) < column.nulls
                values = [None if m else v for v, m in zip(values, missing.tolist(), strict=True)]
            batch[column.name] = column.format(values)
        return batch

    def to_dict(self) -> dict[str, object]:
        """The model file's content."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "rows": self.rows,
            "columns": [column.to_dict() for column in self.columns],
            "correlation": [[round(float(x), 12) for x in row] for row in self.correlation],
            "fingerprints": {"salt": self.salt.hex(), "values": encode_fingerprints(self.hashes)},
        }


def _factor(correlation: FloatArray) -> FloatArray:
    """A square root of the correlation matrix (it is positive semi-definite)."""
    if correlation.size == 0:
        return np.zeros((0, 0))
    values, vectors = np.linalg.eigh(correlation)
    return np.asarray(vectors * np.sqrt(np.clip(values, 0.0, None)), dtype=np.float64)


def value_key(column: str, value: str) -> str:
    """The key of one identifier or text value (hashed like row keys, never kept in clear)."""
    return f"{column}\x1e{value}"


def _fresh(
    column: ColumnModel,
    rng: np.random.Generator,
    count: int,
    salt: bytes,
    known: NDArray[np.uint32],
) -> list[str]:
    """New identifier or text values of the column's shape: none equal to a sample value
    (by its hash), and no two alike if the sample's values were unique."""
    assert column.shape is not None
    values = column.shape.generate(rng, count)
    for _ in range(20):
        seen: set[str] = set()
        redo = []
        hashes = hash_keys([value_key(column.name, value) for value in values], salt)
        for i, (value, reused) in enumerate(
            zip(values, np.isin(hashes, known).tolist(), strict=True)
        ):
            if reused or (column.unique and value in seen):
                redo.append(i)
            seen.add(value)
        if not redo:
            break
        for i, value in zip(redo, column.shape.generate(rng, len(redo)), strict=True):
            values[i] = value
    missing = rng.random(count) < column.nulls
    return ["" if m else v for v, m in zip(values, missing.tolist(), strict=True)]


def nearest_correlation(matrix: FloatArray) -> FloatArray:
    """A valid correlation matrix near `matrix`: NaNs zeroed, eigenvalues >= 1e-6, unit diagonal."""
    m = np.nan_to_num(np.asarray(matrix, dtype=np.float64), nan=0.0)
    m = (m + m.T) / 2
    np.fill_diagonal(m, 1.0)
    values, vectors = np.linalg.eigh(m)
    m = (vectors * np.clip(values, 1e-6, None)) @ vectors.T
    scale = np.sqrt(np.diag(m))
    m = m / np.outer(scale, scale)
    np.fill_diagonal(m, 1.0)
    return np.asarray(m, dtype=np.float64)


def _numbers(column_type: ColumnType, cells: Sequence[str]) -> FloatArray:
    """Numbers of a numeric column, NaN where empty."""
    if column_type is ColumnType.DATETIME:
        fmt = detect_datetime([c for c in cells if c])
        assert fmt is not None
        return np.array([fmt.parse(c) if c else np.nan for c in cells], dtype=np.float64)
    return np.array([float(c) if c else np.nan for c in cells], dtype=np.float64)


def _fit_column(
    name: str, column_type: ColumnType, cells: Sequence[str], rng: np.random.Generator
) -> tuple[ColumnModel, FloatArray | None]:
    """A column's model and (for learned columns) its uniforms for the copula."""
    n = len(cells)
    present = [c for c in cells if c != ""]
    nulls = 1.0 - len(present) / n
    if not column_type.learned:
        shape = (
            fit_identifier(present) if column_type is ColumnType.IDENTIFIER else fit_text(present)
        )
        unique = len(set(present)) == len(present)
        return ColumnModel(name, column_type, nulls, shape=shape, unique=unique), None
    if column_type.numeric:
        numbers = _numbers(column_type, cells)
        ok = ~np.isnan(numbers)
        fmt = detect_datetime(present) if column_type is ColumnType.DATETIME else None
        decimals = float_decimals(present) if column_type is ColumnType.FLOAT else 0
        distinct = np.unique(numbers[ok])
        extra = {"decimals": decimals, "datetime": fmt}
        if distinct.size <= DISCRETE_MAX:
            counts = Counter(numbers[ok].tolist())
            marginal = Marginal.discrete({float(v): float(counts[v]) for v in distinct.tolist()})
            index = {float(v): i for i, v in enumerate(distinct.tolist())}
            codes = np.array([index[v] if not math.isnan(v) else -1 for v in numbers.tolist()])
            u = marginal.to_uniform(codes.astype(np.int64), rng)
        else:
            marginal = Marginal.quantiles(numbers[ok])
            u = rng.random(n)
            u[ok] = (stats.rankdata(numbers[ok]) - 0.5) / ok.sum()
        model = ColumnModel(name, column_type, nulls, marginal, **extra)  # type: ignore[arg-type]
        return model, u
    counts = Counter(cells)
    learned: dict[float | str | None, float] = {
        (None if value == "" else value): float(count)
        for value, count in counts.most_common(MAX_CATEGORIES)
        if count >= MIN_CATEGORY_COUNT or value == ""
    }
    if column_type is ColumnType.BOOLEAN:
        pair = boolean_pair(present)
        assert pair is not None
        order = {pair[0]: 0, pair[1]: 1}
        learned = dict(
            sorted(
                learned.items(), key=lambda kv: 2 if kv[0] is None else order[str(kv[0]).lower()]
            )
        )
    if not learned:
        learned = {None: 1.0}
    marginal = Marginal.discrete(learned)
    position = {value: i for i, value in enumerate(learned)}
    codes = np.array([position.get(None if c == "" else c, -1) for c in cells], dtype=np.int64)
    return ColumnModel(name, column_type, 0.0, marginal), marginal.to_uniform(codes, rng)


def check_table(table: Table) -> int:
    """The number of rows of a table, or an error saying what is wrong with it."""
    if not table:
        raise SampleTooSmall("the sample has no columns")
    if len(table) > MAX_COLUMNS:
        raise SampleTooSmall(f"the sample has {len(table)} columns; at most {MAX_COLUMNS}")
    lengths = {len(cells) for cells in table.values()}
    if len(lengths) != 1:
        raise SampleTooSmall("every column of the sample must have the same number of rows")
    rows = lengths.pop()
    if not MIN_ROWS <= rows <= MAX_ROWS:
        raise SampleTooSmall(
            f"the sample has {rows} rows; a model needs {MIN_ROWS} to {MAX_ROWS:,} rows"
        )
    return rows


def fit(table: Table, *, seed: int = 0) -> CopulaModel:
    """Learn a model from a sample table (column name -> cells; '' is a missing value)."""
    rows = check_table(table)
    rng = np.random.default_rng(seed)
    columns, uniforms = [], []
    for name, cells in table.items():
        model, u = _fit_column(name, detect_type(name, cells), cells, rng)
        columns.append(model)
        if u is not None:
            uniforms.append(u)
    if uniforms:
        scores = special.ndtri(np.clip(np.column_stack(uniforms), EPSILON, 1 - EPSILON))
        with np.errstate(invalid="ignore", divide="ignore"):
            raw = np.corrcoef(scores, rowvar=False) if len(uniforms) > 1 else np.ones((1, 1))
        correlation = nearest_correlation(np.atleast_2d(raw))
    else:
        correlation = np.zeros((0, 0))
    types = {c.name: c.type for c in columns}
    salt = rng.bytes(16)
    keys = row_keys(table, types)
    for name, cells in table.items():
        if not types[name].learned:
            keys.extend(value_key(name, cell) for cell in cells if cell)
    return CopulaModel(rows, tuple(columns), correlation, salt, fingerprints(keys, salt))


# ---- reading a model file back ------------------------------------------------------------


def _read_marginal(raw: object, path: str, column_type: ColumnType) -> Marginal:
    """A marginal from a model file, checked."""
    fields = Fields(raw, path, allowed=("kind", "values", "weights"))
    kind = fields.text("kind")
    if kind == "quantiles":
        knots = fields.numbers("values", max_items=QUANTILES)
        if any(b < a for a, b in itertools.pairwise(knots)):
            raise ModelError(f"{path}.values must be non-decreasing")
        return Marginal("quantiles", tuple(knots))
    if kind != "discrete":
        raise ModelError(f"{path}.kind must be quantiles or discrete (got {kind!r})")
    values = fields.items("values", max_items=MAX_CATEGORIES + 1, min_items=1)
    for i, value in enumerate(values):
        wanted = (int, float) if column_type.numeric else (str,)
        if value is not None and (isinstance(value, bool) or not isinstance(value, wanted)):
            kind_text = "numbers" if column_type.numeric else "strings"
            raise ModelError(f"{path}.values[{i}] must be one of the column's {kind_text} or null")
        if isinstance(value, float) and not math.isfinite(value):
            raise ModelError(f"{path}.values[{i}] must be finite")
    if len(set(values)) != len(values):
        raise ModelError(f"{path}.values must not repeat a value")
    weights = fields.weights("weights", max_items=MAX_CATEGORIES + 1, count=len(values))
    return Marginal.discrete(dict(zip(values, weights, strict=True)))


def _read_column(raw: object, path: str) -> ColumnModel:
    """One column of a model file, checked."""
    fields = Fields(
        raw,
        path,
        allowed=("name", "type", "nulls", "unique", "decimals", "datetime", "marginal", "shape"),
    )
    name = fields.text("name", max_length=1000)
    type_text = fields.text("type")
    try:
        column_type = ColumnType(type_text)
    except ValueError:
        names = ", ".join(t.value for t in ColumnType)
        raise ModelError(f"{path}.type must be one of {names} (got {type_text!r})") from None
    nulls = fields.number("nulls", low=0.0, high=1.0)
    decimals = fields.integer("decimals", high=12)
    unique = fields.raw("unique")
    if not isinstance(unique, bool):
        raise ModelError(f"{path}.unique must be true or false")
    fmt = None
    if column_type is ColumnType.DATETIME:
        dt = Fields(
            fields.raw("datetime"), f"{path}.datetime", allowed=("pattern", "fraction", "suffix")
        )
        try:
            fmt = DatetimeFormat(
                dt.text("pattern"), dt.integer("fraction", high=6), dt.text("suffix")
            )
        except ValueError as exc:
            raise ModelError(f"{path}.datetime: {exc}") from None
    if column_type.learned:
        marginal = _read_marginal(fields.raw("marginal"), f"{path}.marginal", column_type)
        return ColumnModel(name, column_type, nulls, marginal, None, unique, decimals, fmt)
    shape = shape_from_dict(fields.raw("shape"), f"{path}.shape")
    return ColumnModel(name, column_type, nulls, None, shape, unique, decimals, fmt)


def model_from_dict(raw: object) -> CopulaModel:
    """A model from a model file's parsed JSON; ModelError names the first bad field."""
    fields = Fields(
        raw,
        "model",
        allowed=("format", "version", "rows", "columns", "correlation", "fingerprints"),
    )
    if fields.raw("format") != FORMAT:
        raise ModelError(f"model.format must be {FORMAT!r}: this is not a ShieldX synth model")
    version = fields.integer("version", high=1000)
    if version != VERSION:
        raise ModelError(f"model.version {version} is not supported (this ShieldX reads {VERSION})")
    rows = fields.integer("rows", low=MIN_ROWS, high=MAX_ROWS)
    columns = tuple(
        _read_column(item, f"model.columns[{i}]")
        for i, item in enumerate(fields.items("columns", max_items=MAX_COLUMNS, min_items=1))
    )
    names = [c.name for c in columns]
    if len(set(names)) != len(names):
        raise ModelError("model.columns must not repeat a column name")
    k = sum(c.type.learned for c in columns)
    matrix_rows = fields.items("correlation", max_items=k, min_items=k)
    matrix = np.array(
        [
            Fields({"row": row}, "model.correlation").numbers(
                "row", max_items=k, min_items=k, low=-1.0
            )
            if isinstance(row, list)
            else [math.nan]
            for row in matrix_rows
        ],
        dtype=np.float64,
    ).reshape(k, k)
    if k and (
        not np.all(np.isfinite(matrix))
        or np.any(np.abs(matrix) > 1 + 1e-9)
        or not np.allclose(matrix, matrix.T, atol=1e-9)
        or not np.allclose(np.diag(matrix), 1.0, atol=1e-9)
        or np.linalg.eigvalsh(matrix).min() < -1e-8
    ):
        raise ModelError(
            f"model.correlation must be a {k}x{k} symmetric positive semi-definite matrix "
            "with entries in [-1, 1] and ones on the diagonal"
        )
    prints = Fields(fields.raw("fingerprints"), "model.fingerprints", allowed=("salt", "values"))
    try:
        salt = bytes.fromhex(prints.text("salt", max_length=64))
        hashes = decode_fingerprints(prints.text("values", max_length=64 * 1024 * 1024))
    except ValueError as exc:
        raise ModelError(f"model.fingerprints: {exc}") from None
    if not 8 <= len(salt) <= 32 or hashes.size > rows * (len(columns) + 1):
        raise ModelError(
            "model.fingerprints must have a salt of 8 to 32 bytes and at most one hash a cell"
        )
    return CopulaModel(rows, columns, matrix, salt, np.sort(hashes))
