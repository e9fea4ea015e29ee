"""How closely a synthetic table follows a real one: SDMetrics' QualityReport, and privacy.

SDMetrics (MIT) is an optional extra, `shieldx[synth-quality]`: it brings pandas,
scikit-learn and plotly (about 125 MB installed; importing it takes ~2.5 s and ~75 MB more
than numpy and scipy on the reference machine), which nothing else at run time needs.
Its QualityReport averages two properties: Column Shapes (KSComplement for numbers and
datetimes, TVComplement for categories and booleans) and Column Pair Trends (correlation
similarity for pairs of numbers, contingency similarity otherwise). Identifier and free-text
columns are given to it as `id` (not scored): they are fresh by design.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from shieldx.camouflage.synth.columns import ColumnType, detect_type
from shieldx.camouflage.synth.privacy import canonical, privacy_report

EXTRA = "synth-quality"
SDTYPES = {
    ColumnType.INTEGER: "numerical",
    ColumnType.FLOAT: "numerical",
    ColumnType.DATETIME: "datetime",
    ColumnType.BOOLEAN: "boolean",
    ColumnType.CATEGORICAL: "categorical",
    ColumnType.IDENTIFIER: "id",
    ColumnType.TEXT: "id",
}
Table = Mapping[str, Sequence[str]]


class MissingExtra(RuntimeError):
    """An optional dependency is not installed; the message says which extra brings it."""


def _frame(table: Table, types: Mapping[str, ColumnType]) -> Any:
    """A pandas DataFrame with each column in the dtype SDMetrics expects for its sdtype."""
    import pandas as pd  # type: ignore[import-untyped]

    columns: dict[str, Any] = {}
    for name, kind in types.items():
        cells = table[name]
        if kind in (ColumnType.INTEGER, ColumnType.FLOAT, ColumnType.DATETIME):
            numbers = [float(canonical(kind, c)) if c else None for c in cells]
            series = pd.Series(numbers, dtype="float64")
            columns[name] = (
                pd.to_datetime(series, unit="s") if kind is ColumnType.DATETIME else series
            )
        elif kind is ColumnType.BOOLEAN:
            columns[name] = pd.Series(
                [None if c == "" else c.lower() in ("true", "yes", "t", "y") for c in cells],
                dtype="object",
            )
        else:
            columns[name] = pd.Series([None if c == "" else c for c in cells], dtype="object")
    return pd.DataFrame(columns)


def column_types(real: Table) -> dict[str, ColumnType]:
    """The types detected from the real table (the synthetic one is judged by them)."""
    return {name: detect_type(name, cells) for name, cells in real.items()}


def quality_report(real: Table, synthetic: Table, *, seed: int = 0) -> dict[str, Any]:
    """SDMetrics' quality score (overall, per property and per column) and the privacy figures."""
    if list(real) != list(synthetic):
        raise ValueError(
            "the synthetic table must have the real table's columns in the same order "
            f"(real: {', '.join(real)}; synthetic: {', '.join(synthetic)})"
        )
    try:
        from sdmetrics.reports import QualityReport  # type: ignore[import-untyped]
    except ImportError:
        raise MissingExtra(
            f"the quality score needs SDMetrics: pip install 'shieldx[{EXTRA}]'"
        ) from None
    types = column_types(real)
    for name, cells in synthetic.items():
        try:
            for cell in cells:
                canonical(types[name], cell)
        except ValueError as exc:
            raise ValueError(
                f"synthetic column {name!r} does not hold the real column's {types[name]} values: {exc}"
            ) from None
    metadata = {"columns": {name: {"sdtype": SDTYPES[kind]} for name, kind in types.items()}}
    report = QualityReport()
    with warnings.catch_warnings():
        # SDMetrics warns about pandas internals it uses; they say nothing about the data.
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        report.generate(
            {"table": _frame(real, types)},
            {"table": _frame(synthetic, types)},
            {"tables": {"table": metadata}},
            verbose=False,
        )
        properties = report.get_properties()
        shapes = report.get_details("Column Shapes", table_name="table")
    scores = {
        str(name): float(score)
        for name, score in zip(properties["Property"], properties["Score"], strict=True)
    }
    columns = {
        str(name): round(float(score), 4)
        for name, score in zip(shapes["Column"], shapes["Score"], strict=True)
    }
    return {
        "quality": round(float(report.get_score()), 4),
        "column_shapes": round(scores.get("Column Shapes", float("nan")), 4),
        "column_pair_trends": round(scores.get("Column Pair Trends", float("nan")), 4),
        "columns": columns,
        "privacy": privacy_report(real, synthetic, types, seed=seed),
        "rows": {
            "real": len(next(iter(real.values()))),
            "synthetic": len(next(iter(synthetic.values()))),
        },
        "types": {name: kind.value for name, kind in types.items()},
    }
