"""SDMetrics' quality score separates a copula's rows from rows without correlations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shieldx.camouflage.synth.fidelity import quality_report
from shieldx.camouflage.synth.files import read_table
from shieldx.camouflage.synth.model import fit

SAMPLE = Path(__file__).parent / "data" / "customers.csv"
ROWS = 1000


@pytest.fixture(scope="module")
def real() -> dict[str, list[str]]:
    return {name: cells[:ROWS] for name, cells in read_table(SAMPLE).items()}


def test_copula_keeps_pair_trends_that_independent_columns_lose(
    real: dict[str, list[str]],
) -> None:
    made = fit(real).sample(ROWS, seed=3).table
    rng = np.random.default_rng(0)
    shuffled = {name: [cells[i] for i in rng.permutation(ROWS)] for name, cells in real.items()}
    copula = quality_report(real, made)
    independent = quality_report(real, shuffled)
    assert independent["column_shapes"] == 1.0  # the same values, so the same marginals
    assert copula["column_shapes"] >= 0.93
    assert copula["column_pair_trends"] >= independent["column_pair_trends"] + 0.1
    assert set(copula["columns"]) == {
        "signup_date",
        "age",
        "country",
        "income",
        "plan",
        "monthly_spend",
        "support_tickets",
        "churn_risk",
        "last_login",
        "is_active",
    }
    assert copula["privacy"]["exact_copies"] == 0
    assert independent["privacy"]["exact_copies"] < ROWS


def test_tables_must_share_columns(real: dict[str, list[str]]) -> None:
    with pytest.raises(ValueError, match="same order"):
        quality_report(real, {"x": ["1"]})
    bad = dict(real, age=["old"] * ROWS)
    with pytest.raises(ValueError, match="'age' does not hold the real column's integer"):
        quality_report(real, bad)
