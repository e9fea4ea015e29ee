"""The Gaussian copula fitted to the shipped sample: marginals, correlations, privacy, files."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
import orjson
import pytest
from numpy.typing import NDArray
from scipy import stats  # type: ignore[import-untyped]

from shieldx.camouflage.synth.columns import ColumnType
from shieldx.camouflage.synth.files import read_table
from shieldx.camouflage.synth.model import (
    CopulaModel,
    Generated,
    SampleTooSmall,
    fit,
    model_from_dict,
    nearest_correlation,
)
from shieldx.camouflage.synth.privacy import row_keys

SAMPLE = Path(__file__).parent / "data" / "customers.csv"
NUMBERS = ("age", "income", "monthly_spend", "churn_risk", "support_tickets")


@pytest.fixture(scope="module")
def real() -> dict[str, list[str]]:
    return read_table(SAMPLE)


@pytest.fixture(scope="module")
def model(real: dict[str, list[str]]) -> CopulaModel:
    return fit(real, seed=1)


@pytest.fixture(scope="module")
def generated(model: CopulaModel) -> Generated:
    return model.sample(4000, seed=2)


def numbers(cells: list[str]) -> NDArray[np.float64]:
    return np.array([float(c) for c in cells if c])


def test_types_are_detected(model: CopulaModel) -> None:
    assert model.types == {
        "customer_id": ColumnType.IDENTIFIER,
        "email": ColumnType.IDENTIFIER,
        "signup_date": ColumnType.DATETIME,
        "age": ColumnType.INTEGER,
        "country": ColumnType.CATEGORICAL,
        "income": ColumnType.FLOAT,
        "plan": ColumnType.CATEGORICAL,
        "monthly_spend": ColumnType.FLOAT,
        "support_tickets": ColumnType.INTEGER,
        "churn_risk": ColumnType.FLOAT,
        "last_login": ColumnType.DATETIME,
        "is_active": ColumnType.BOOLEAN,
        "note": ColumnType.TEXT,
    }


@pytest.mark.parametrize("column", NUMBERS)
def test_numeric_marginals_are_close(
    real: dict[str, list[str]], generated: Generated, column: str
) -> None:
    statistic = stats.ks_2samp(numbers(real[column]), numbers(generated.table[column])).statistic
    assert statistic < 0.05


@pytest.mark.parametrize("column", ["country", "plan", "is_active"])
def test_category_frequencies_are_close(
    real: dict[str, list[str]], generated: Generated, column: str
) -> None:
    a, b = Counter(real[column]), Counter(generated.table[column])
    distance = 0.5 * sum(
        abs(a[k] / len(real[column]) - b[k] / len(generated.table[column])) for k in a | b
    )
    assert distance < 0.03


@pytest.mark.parametrize(
    "pair",
    [("age", "income"), ("income", "monthly_spend"), ("monthly_spend", "churn_risk")],
)
def test_correlations_are_preserved(
    real: dict[str, list[str]], generated: Generated, pair: tuple[str, str]
) -> None:
    def rho(table: dict[str, list[str]]) -> float:
        return float(stats.spearmanr(numbers(table[pair[0]]), numbers(table[pair[1]]))[0])

    expected = rho(real)
    assert abs(expected) > 0.2  # the sample really has this dependence
    assert abs(rho(generated.table) - expected) < 0.08


def test_category_follows_the_numbers_it_depends_on(generated: Generated) -> None:
    income = numbers(generated.table["income"])
    plans = np.array(generated.table["plan"])
    medians = [float(np.median(income[plans == p])) for p in ("basic", "plus", "premium")]
    assert medians == sorted(medians)


def test_formats_nulls_and_datetimes_follow_the_sample(
    real: dict[str, list[str]], generated: Generated
) -> None:
    table = generated.table
    assert all(len(c.split(".")[1]) == 2 for c in table["income"])
    assert all(len(c) == 10 and c[4] == "-" for c in table["signup_date"])
    assert all(c.endswith("Z") and "T" in c for c in table["last_login"])
    assert set(table["is_active"]) == {"true", "false"}
    share = table["note"].count("") / len(table["note"])
    assert abs(share - real["note"].count("") / len(real["note"])) < 0.04
    low, high = min(real["signup_date"]), max(real["signup_date"])
    assert low <= min(table["signup_date"]) and max(table["signup_date"]) <= high


def test_identifiers_and_text_are_fresh(real: dict[str, list[str]], generated: Generated) -> None:
    for column in ("customer_id", "email", "note"):
        made = {c for c in generated.table[column] if c}
        assert not made & {c for c in real[column] if c}, column
    ids = generated.table["customer_id"]
    assert len(set(ids)) == len(ids)  # the sample's ids are unique, so are the generated ones
    assert all(c.startswith("CUS-") for c in ids)


def test_no_generated_row_copies_a_real_one(
    real: dict[str, list[str]], model: CopulaModel, generated: Generated
) -> None:
    assert not set(row_keys(generated.table, model.types)) & set(row_keys(real, model.types))


def test_same_seed_same_rows(model: CopulaModel) -> None:
    assert model.sample(50, seed=9).table == model.sample(50, seed=9).table
    assert model.sample(50, seed=9).table != model.sample(50, seed=10).table
    assert {len(v) for v in model.sample(0).table.values()} == {0}


def test_copies_are_rejected_when_combinations_are_few() -> None:
    # 3 x 3 combinations, 8 of them in the sample: only the ninth may be generated.
    combos = [(a, b) for a in "xyz" for b in "uvw" if (a, b) != ("z", "w")]
    rows = combos * 5
    table = {"a": [a for a, _ in rows], "b": [b for _, b in rows]}
    model = fit(table)
    made = model.sample(30, seed=1)
    assert set(zip(made.table["a"], made.table["b"], strict=True)) == {("z", "w")}
    assert made.rejected > 0
    full = [(a, b) for a in "xy" for b in "uv"] * 5
    everything = fit({"a": [a for a, _ in full], "b": [b for _, b in full]})
    with pytest.raises(ValueError, match="too few combinations"):
        everything.sample(10)


def test_categories_seen_once_are_not_learned() -> None:
    cells = ["red"] * 20 + ["blue"] * 20 + ["Secret Person"]
    weights = [f"{0.5 + i / 7:.3f}" for i in range(len(cells))]
    model = fit({"colour": cells, "weight": weights})
    assert set(model.sample(500).table["colour"]) == {"red", "blue"}


def test_model_round_trips_through_json(model: CopulaModel) -> None:
    text = orjson.dumps(model.to_dict())
    again = model_from_dict(orjson.loads(text))
    assert orjson.dumps(again.to_dict()) == text
    assert again.sample(100, seed=4).table == model.sample(100, seed=4).table
    assert b"example.com" not in text.replace(b"@example.com", b"")  # only the shared domain
    assert not any(email.encode() in text for email in read_table(SAMPLE)["email"][:50])


def test_sample_limits() -> None:
    with pytest.raises(SampleTooSmall, match="a model needs 10 to"):
        fit({"a": ["1", "2"]})
    with pytest.raises(SampleTooSmall, match="same number of rows"):
        fit({"a": ["1"] * 10, "b": ["1"] * 11})
    with pytest.raises(SampleTooSmall, match="no columns"):
        fit({})
    with pytest.raises(SampleTooSmall, match="at most 256"):
        fit({f"c{i}": ["1"] * 10 for i in range(257)})


def test_nearest_correlation_repairs_a_bad_matrix() -> None:
    bad = np.array([[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]])
    fixed = nearest_correlation(bad)
    assert np.linalg.eigvalsh(fixed).min() > 0
    assert np.allclose(np.diag(fixed), 1.0)
    assert math.isclose(float(nearest_correlation(np.array([[np.nan]]))[0, 0]), 1.0)
