"""The realism score: high for our own output, clearly lower when a column is wrong."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from shieldx.camouflage.synth.base import Value
from shieldx.camouflage.synth.quality import QualityReport, collect, score_quality, score_table
from shieldx.camouflage.synth.synthesizer import Synthesizer

SYNTH = Synthesizer()
COUNT = 5_000


@pytest.fixture(scope="module")
def tables() -> dict[str, dict[str, list[Value]]]:
    return {
        kind: {k: list(v) for k, v in collect(SYNTH.chunks(kind, seed=2, count=COUNT)).items()}
        for kind in ("users", "transactions", "traffic")
    }


@pytest.mark.parametrize("kind", ["users", "transactions", "traffic"])
def test_our_output_scores_high_on_every_column(kind: str) -> None:
    report = score_quality(kind, count=COUNT, seed=1, synthesizer=SYNTH)
    assert report.overall >= 0.95
    low = [(c.column, round(c.score, 3)) for c in report.columns if c.score < 0.9]
    assert not low


def test_uniform_ages_score_clearly_lower(tables: dict[str, dict[str, list[Value]]]) -> None:
    table = dict(tables["users"])
    honest = score_table("users", table, synthesizer=SYNTH)
    table["age"] = np.random.default_rng(0).integers(18, 91, COUNT).tolist()
    wrong = score_table("users", table, synthesizer=SYNTH)
    assert honest.score_of("age") > 0.97
    assert wrong.score_of("age") < 0.8
    assert wrong.overall < honest.overall


def test_wrong_transaction_columns_score_lower(tables: dict[str, dict[str, list[Value]]]) -> None:
    table = dict(tables["transactions"])
    rng = np.random.default_rng(1)
    # Log-normal amounts with the same median: plausible-looking, but not 80/20.
    table["amount_cents"] = np.floor(1_816 * np.exp(rng.normal(0, 1, COUNT))).tolist()
    table["type"] = rng.choice(["purchase", "refund", "fee"], COUNT).tolist()
    report = score_table("transactions", table, synthesizer=SYNTH)
    assert report.score_of("amount_cents") < 0.85
    assert report.score_of("type") < 0.6


def test_wrong_traffic_columns_score_lower(tables: dict[str, dict[str, list[Value]]]) -> None:
    table = dict(tables["traffic"])
    rng = np.random.default_rng(2)
    table["packets"] = rng.integers(1, 50, COUNT).tolist()
    table["protocol"] = rng.choice(["TCP", "UDP", "ICMP"], COUNT).tolist()
    report = score_table("traffic", table, synthesizer=SYNTH)
    assert report.score_of("packets") < 0.7
    assert report.score_of("protocol") < 0.75


def test_shuffled_names_keep_bigrams_but_random_letters_do_not(
    tables: dict[str, dict[str, list[Value]]],
) -> None:
    table = dict(tables["users"])
    rng = np.random.default_rng(3)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz0123456789"))
    table["username"] = ["".join(rng.choice(letters, 9)) for _ in range(COUNT)]
    report = score_table("users", table, synthesizer=SYNTH)
    assert report.score_of("username") < 0.5
    assert report.score_of("username.length") < 0.8


def test_every_column_names_its_metric_and_reference() -> None:
    report = score_quality("traffic", count=500, seed=4, synthesizer=SYNTH)
    for column in report.columns:
        assert column.metric in {"KSComplement", "TVComplement", "BigramTVComplement"}
        assert column.reference and 0.0 <= column.score <= 1.0
    document = orjson.loads(orjson.dumps(report.to_dict()))
    assert document["kind"] == "traffic" and document["count"] == 500
    assert document["overall"] == pytest.approx(report.overall, abs=1e-4)
    assert len(document["columns"]) == len(report.columns)


def test_overall_is_the_mean_of_the_columns() -> None:
    report = score_quality("users", count=300, seed=5, synthesizer=SYNTH)
    assert isinstance(report, QualityReport)
    assert report.overall == pytest.approx(np.mean([c.score for c in report.columns]))
    with pytest.raises(KeyError, match="nope"):
        report.score_of("nope")


def test_progress_counts_every_record() -> None:
    seen: list[int] = []
    score_quality("transactions", count=10_000, seed=6, synthesizer=SYNTH, progress=seen.append)
    assert sum(seen) == 10_000 and len(seen) == 2


def test_too_few_records_is_an_error_that_says_so() -> None:
    with pytest.raises(ValueError, match="at least 2 records"):
        score_quality("users", count=1, synthesizer=SYNTH)
