from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shieldx.shadow.replay.runner import (
    FrozenClock,
    diff_verdicts,
    replay,
    summarize,
    variant_counts,
)
from shieldx.shadow.rules.corpus import generate_corpus
from shieldx.shadow.rules.domain import Action, ErrorPolicy, Rule, RuleSet
from shieldx.shadow.rules.records import Label, TrafficRecord, normalize_record
from shieldx.shadow.rules.sample_rules import sample_ruleset

CLOCK = FrozenClock(datetime(2024, 6, 1, 12, 0, tzinfo=UTC))
SAMPLE = sample_ruleset()
CORPUS = generate_corpus(600, seed=9)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.sampled_from(CORPUS), max_size=60), st.booleans())
def test_the_same_input_gives_an_identical_result(
    records: list[TrafficRecord], exhaustive: bool
) -> None:
    first = replay(records, SAMPLE, CLOCK, exhaustive=exhaustive)
    second = replay(list(records), sample_ruleset(), FrozenClock(CLOCK.at), exhaustive=exhaustive)
    assert first == second
    assert repr(first) == repr(second)
    assert first.evaluated_at == CLOCK.at


def test_the_summary_adds_up() -> None:
    result = replay(CORPUS, SAMPLE, CLOCK)
    summary = result.summary
    assert summary.records == len(CORPUS) == sum(summary.actions.values())
    assert list(summary.actions) == [a.value for a in Action]
    assert sum(summary.decided_by.values()) == len(CORPUS)
    counts = summary.counts
    assert counts.blocks == summary.actions["block"] + summary.actions["challenge"]
    labelled = (
        counts.true_positives
        + counts.false_positives
        + counts.true_negatives
        + counts.false_negatives
    )
    assert labelled == len(CORPUS)
    assert counts.true_positives + counts.false_negatives == sum(
        t.label is Label.MALICIOUS for t in CORPUS
    )
    assert list(summary.matches) == sorted(summary.matches)


def test_failures_are_counted_per_rule() -> None:
    broken = RuleSet.compile(
        "broken",
        1,
        [Rule("needs-cookie", 'headers.cookie.contains("x")', Action.BLOCK)],
        ErrorPolicy.FAIL_CLOSED,
    )
    records = [
        TrafficRecord(normalize_record({"headers": {"cookie": "a"}})),
        TrafficRecord(normalize_record({})),
        TrafficRecord(normalize_record({})),
    ]
    summary = replay(records, broken, CLOCK).summary
    assert summary.records_with_errors == 2
    assert summary.rule_failures == {"needs-cookie": 2}
    assert summary.actions["block"] == 2  # fail-closed


def test_variant_counts_need_one_label_per_decision() -> None:
    with pytest.raises(ValueError, match="one label"):
        variant_counts([SAMPLE.decide(CORPUS[0].record)], [])
    assert summarize([], []).counts.n == 0


def test_verdict_diff_attributes_new_blocks_and_new_allows() -> None:
    control = RuleSet.compile(
        "ctl", 1, [Rule("block-admin", 'path.startsWith("/admin")', Action.BLOCK)]
    )
    candidate = RuleSet.compile(
        "cand", 1, [Rule("block-login", 'path == "/login"', Action.CHALLENGE)]
    )
    records = [
        TrafficRecord(normalize_record({"path": "/admin", "ip": "10.0.0.1"})),
        TrafficRecord(normalize_record({"path": "/login", "ip": "10.0.0.2"})),
        TrafficRecord(normalize_record({"path": "/login", "ip": "10.0.0.2"})),
        TrafficRecord(normalize_record({"path": "/login", "ip": "10.0.0.3"})),
        TrafficRecord(normalize_record({"path": "/"})),
    ]
    diff = diff_verdicts(records, control, candidate)
    assert diff.matrix["block"]["allow"] == 1
    assert diff.matrix["allow"]["challenge"] == 3
    assert diff.matrix["allow"]["allow"] == 1
    assert sum(sum(row.values()) for row in diff.matrix.values()) == len(records)
    assert diff.new_blocks == {"block-login": 3}
    assert diff.new_allows == {"block-admin": 1}
    assert (diff.blast_radius_requests, diff.blast_radius_clients) == (3, 2)
