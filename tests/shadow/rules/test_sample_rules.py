from __future__ import annotations

from collections import Counter

from shieldx.shadow.cel import compile_expression
from shieldx.shadow.rules.corpus import generate_corpus
from shieldx.shadow.rules.domain import REQUEST_ENV, Action
from shieldx.shadow.rules.records import Label
from shieldx.shadow.rules.sample_rules import sample_rules, sample_ruleset


def test_fifty_distinct_rules_of_every_action() -> None:
    rules = sample_rules()
    assert len(rules) == 50 == len({r.id for r in rules})
    assert {r.action for r in rules} == set(Action)


def test_the_sample_set_separates_attacks_from_benign_traffic() -> None:
    rules = sample_ruleset()
    tally = Counter((t.label, rules.decide(t.record).blocked) for t in generate_corpus(3000))
    benign = tally[(Label.BENIGN, True)] + tally[(Label.BENIGN, False)]
    malicious = tally[(Label.MALICIOUS, True)] + tally[(Label.MALICIOUS, False)]
    assert tally[(Label.BENIGN, True)] / benign < 0.01
    assert 0.8 < tally[(Label.MALICIOUS, True)] / malicious < 1.0


def test_shared_work_does_not_change_any_rule_outcome() -> None:
    rules = sample_ruleset()
    standalone = {r.id: compile_expression(r.expression, REQUEST_ENV) for r in rules.rules}
    for item in generate_corpus(400, seed=3):
        full = rules.evaluate_all(item.record)
        expected = tuple(
            rid for rid in rules.evaluation_order if standalone[rid].evaluate(item.record)
        )
        assert full.matched == expected
        assert full.errors == ()
