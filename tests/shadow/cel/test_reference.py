from __future__ import annotations

import pytest

from shieldx.shadow.bench.inprocess import CelpyRuleSet
from shieldx.shadow.cel import reference as celpy_reference
from shieldx.shadow.rules.corpus import generate_corpus
from shieldx.shadow.rules.sample_rules import sample_ruleset

# Built at import: cel-python's Environment() changes the recursion limit (see the cross-check).
RULESET = sample_ruleset()
REFERENCES = {runner: CelpyRuleSet(RULESET, runner) for runner in ("interpreted", "compiled")}


@pytest.mark.parametrize("runner", ["interpreted", "compiled"])
def test_cel_python_reaches_the_same_decisions_on_the_corpus(runner: str) -> None:
    reference = REFERENCES[runner]
    for item in generate_corpus(120, seed=5):
        ours = RULESET.decide(item.record)
        assert reference.decide(celpy_reference.activation(item.record)) == (
            ours.action,
            ours.rule_id,
        )


def test_values_come_back_as_plain_python() -> None:
    program = celpy_reference.program('[1, "a", true, {"k": 2.5}]')
    assert celpy_reference.evaluate(program, {}) == [1, "a", True, {"k": 2.5}]
