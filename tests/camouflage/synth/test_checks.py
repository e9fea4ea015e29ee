"""Column checks: what they score, how they report, and how they fail on empty input."""

from __future__ import annotations

import orjson
import pytest

from shieldx.camouflage.synth.checks import CategoryCheck, ColumnScore, GridCheck, TextCheck
from shieldx.camouflage.synth.corpora import Corpus
from shieldx.camouflage.synth.distributions import Grid, Uniform


def test_grid_check_names_its_target() -> None:
    check = GridCheck.of("n", Uniform(0, 10, Grid(1, rounding="floor")))
    score = check.score({"n": list(range(10))})
    assert score.score == pytest.approx(1.0)
    assert score.reference == "target Uniform(0, 10), floored to 1"


def test_category_check_uses_the_extractor() -> None:
    check = CategoryCheck("len", {3: 1.0}, "three", lambda table: [len(str(v)) for v in table["w"]])
    assert check.score({"w": ["abc", "xyz"]}).score == 1.0


def test_text_check_reports_novelty() -> None:
    corpus = Corpus.from_words("first_names", ("anna", "otto"))
    score = TextCheck("name", corpus).score({"name": ["anna", "annotto", None]})
    assert score.details["novelty"] == 0.5
    assert score.kind == "text" and score.metric == "BigramTVComplement"


def test_a_column_without_values_asks_for_more_records() -> None:
    corpus = Corpus.from_words("merchants", ("Acme",))
    with pytest.raises(ValueError, match="no values to score for 'merchant'"):
        TextCheck("merchant", corpus).score({"merchant": [None, None]})


def test_scores_serialise() -> None:
    score = ColumnScore("a", "numerical", "KSComplement", 0.912345, "ref")
    assert orjson.loads(orjson.dumps(score.to_dict()))["score"] == 0.9123
