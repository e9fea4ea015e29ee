"""`shieldx bench synth`: rows/s to fit and to sample, quality and privacy, with references.

The sample is the demo table of customers (demo.py: 13 correlated columns of every type).
References, measured in the same run on the same data: numpy's correlation of the learned
columns' normal scores (the copula's core step without type detection, text parsing,
marginals or hashing) for fitting, and numpy's multivariate_normal for the same matrix (the
correlated draws without marginals, formatting or the copy check) for sampling.
"""

from __future__ import annotations

import os
import platform
import time
from typing import Any

import numpy as np

from shieldx.camouflage.synth.demo import customers
from shieldx.camouflage.synth.fidelity import MissingExtra, column_types, quality_report
from shieldx.camouflage.synth.model import fit
from shieldx.camouflage.synth.privacy import privacy_report


def _rate(rows: int, seconds: float) -> float:
    """Rows per second, rounded."""
    return round(rows / seconds, 1) if seconds > 0 else float("inf")


def _best_of(repeats: int, action: Any) -> float:
    """The shortest of `repeats` timings of action() (the least disturbed run)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


def synth_bench(*, rows: int = 20_000, quality_rows: int = 2_000, seed: int = 0) -> dict[str, Any]:
    """Measure fit and sample on `rows` demo customers; quality and privacy on `quality_rows`."""
    if rows < 100 or quality_rows < 100:
        raise ValueError("--rows and --quality-rows must be at least 100")
    table = customers(rows, seed=seed)
    start = time.perf_counter()
    model = fit(table, seed=seed)
    fit_seconds = time.perf_counter() - start
    k = len(model.learned)
    rng = np.random.default_rng(seed)
    scores = rng.multivariate_normal(np.zeros(k), model.correlation, size=rows)
    reference_fit = _best_of(3, lambda: np.corrcoef(scores, rowvar=False))
    start = time.perf_counter()
    generated = model.sample(rows, seed=seed + 1)
    sample_seconds = time.perf_counter() - start
    reference_sample = _best_of(
        3, lambda: rng.multivariate_normal(np.zeros(k), model.correlation, size=rows)
    )
    real_part = {name: cells[:quality_rows] for name, cells in table.items()}
    made_part = {name: cells[:quality_rows] for name, cells in generated.table.items()}
    try:
        quality: dict[str, Any] = quality_report(real_part, made_part, seed=seed)
        privacy = quality.pop("privacy")
        quality = {key: quality[key] for key in ("quality", "column_shapes", "column_pair_trends")}
    except MissingExtra as exc:
        quality = {"quality": None, "reason": str(exc)}
        privacy = privacy_report(real_part, made_part, column_types(real_part), seed=seed)
    fit_rate, sample_rate = _rate(rows, fit_seconds), _rate(rows, sample_seconds)
    return {
        "rows": rows,
        "columns": len(model.columns),
        "learned_columns": k,
        "fit": {"seconds": round(fit_seconds, 3), "rows_per_s": fit_rate},
        "fit_reference": {
            "what": "numpy corrcoef of the learned columns' normal scores",
            "rows_per_s": _rate(rows, reference_fit),
        },
        "fit_ratio": round(_rate(rows, reference_fit) / fit_rate, 1),
        "sample": {
            "seconds": round(sample_seconds, 3),
            "rows_per_s": sample_rate,
            "rejected_as_copies": generated.rejected,
        },
        "sample_reference": {
            "what": "numpy multivariate_normal with the fitted correlation",
            "rows_per_s": _rate(rows, reference_sample),
        },
        "sample_ratio": round(_rate(rows, reference_sample) / sample_rate, 1),
        "quality_rows": quality_rows,
        **quality,
        "privacy": privacy,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "processor": platform.machine(),
        },
    }
