from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shieldx.shadow.rules.domain import (
    Action,
    Decision,
    ErrorPolicy,
    InvalidRuleSet,
    Rule,
    RuleFailure,
    RuleSet,
    parse_ruleset_ref,
)
from shieldx.shadow.rules.records import normalize_record

RECORD = normalize_record(
    {"method": "GET", "path": "/admin", "ip": "10.0.0.7", "headers": {"host": "a"}}
)


def ruleset(*rules: Rule, on_error: ErrorPolicy = ErrorPolicy.FAIL_OPEN) -> RuleSet:
    return RuleSet.compile("test", 1, rules, on_error)


def test_the_highest_priority_deciding_rule_wins_and_logs_do_not_decide() -> None:
    rules = ruleset(
        Rule("low-block", 'path == "/admin"', Action.BLOCK, priority=1),
        Rule("log-admin", 'path.startsWith("/admin")', Action.LOG, priority=9),
        Rule("allow-internal", 'ip.inCidr("10.0.0.0/8")', Action.ALLOW, priority=5),
        Rule("never", "false", Action.BLOCK, priority=7),
    )
    assert rules.evaluation_order == ("log-admin", "never", "allow-internal", "low-block")
    assert rules.decide(RECORD) == Decision(
        Action.ALLOW, "allow-internal", ("log-admin", "allow-internal")
    )
    everything = rules.evaluate_all(RECORD)
    assert everything.action is Action.ALLOW and everything.rule_id == "allow-internal"
    assert everything.matched == ("log-admin", "allow-internal", "low-block")


def test_equal_priorities_keep_the_declared_order() -> None:
    rules = ruleset(Rule("b", "true", Action.CHALLENGE), Rule("a", "true", Action.BLOCK))
    assert rules.decide(RECORD).rule_id == "b"


def test_no_match_means_the_default_allow() -> None:
    decision = ruleset(Rule("r", "false", Action.BLOCK)).decide(RECORD)
    assert decision == Decision(Action.ALLOW, None)
    assert not decision.blocked


FAILING = 'headers["x-missing"] == "1"'


def test_fail_open_skips_a_failing_rule_and_records_the_error() -> None:
    decision = ruleset(Rule("broken", FAILING, Action.BLOCK), Rule("r", "true", Action.LOG)).decide(
        RECORD
    )
    assert decision.action is Action.ALLOW and decision.matched == ("r",)
    assert decision.errors == (RuleFailure("broken", "1:1: no such key: 'x-missing'"),)


def test_fail_closed_applies_a_failing_restriction_but_never_a_failing_allow() -> None:
    block = ruleset(Rule("broken", FAILING, Action.CHALLENGE), on_error=ErrorPolicy.FAIL_CLOSED)
    decision = block.decide(RECORD)
    assert (decision.action, decision.rule_id, decision.by_error) == (
        Action.CHALLENGE,
        "broken",
        True,
    )
    allow = ruleset(
        Rule("broken-allow", FAILING, Action.ALLOW, priority=2),
        Rule("block-admin", 'path == "/admin"', Action.BLOCK, priority=1),
        on_error=ErrorPolicy.FAIL_CLOSED,
    )
    decision = allow.decide(RECORD)
    assert (decision.action, decision.rule_id, decision.by_error) == (
        Action.BLOCK,
        "block-admin",
        False,
    )
    assert [e.rule_id for e in decision.errors] == ["broken-allow"]


def test_no_exception_escapes_even_on_a_record_that_breaks_its_types() -> None:
    rules = ruleset(
        Rule("size", "body_size > 10", Action.BLOCK),
        Rule("ua", 'user_agent.contains("x")', Action.BLOCK),
    )
    decision = rules.decide({"body_size": "12"})  # not normalised: wrong type, missing fields
    assert decision.action is Action.ALLOW
    assert [e.rule_id for e in decision.errors] == ["size", "ua"]
    assert all(e.message.startswith("internal error") for e in decision.errors)


def test_every_problem_is_reported_with_rule_and_position() -> None:
    with pytest.raises(InvalidRuleSet) as info:
        ruleset(
            Rule("ok", "true", Action.BLOCK),
            Rule("typo", 'pth == "/"', Action.BLOCK),
            Rule("syntax", "path ==\n  && true", Action.BLOCK),
            Rule("typo", "true", Action.BLOCK),
            Rule("bad id!", "true", Action.BLOCK),
            Rule("act", "true", "deny"),  # type: ignore[arg-type]
            Rule("empty", "  ", Action.BLOCK),
            Rule("notbool", "asn + 1", Action.BLOCK),
        )
    problems = {(p.rule_id, p.line, p.column): p.message for p in info.value.problems}
    assert "unknown identifier 'pth'" in problems[("typo", 1, 1)]
    assert "syntax error" in problems[("syntax", 2, 3)]
    assert problems[("typo", 1, 1)] and "duplicate rule id" in str(info.value)
    assert any("rule id must match" in m for m in problems.values())
    assert "action must be one of block, allow, log, challenge" in str(info.value)
    assert "expression must be a non-empty string" in str(info.value)
    assert "must be a bool" in str(info.value)
    assert "rule 'typo' at 1:1: unknown identifier 'pth'" in str(info.value)


def test_rule_sets_are_immutable_and_named() -> None:
    rules = ruleset(Rule("r", "true", Action.BLOCK))
    with pytest.raises(dataclasses.FrozenInstanceError):
        rules.version = 2  # type: ignore[misc]
    assert rules.ref == "test@1"
    with pytest.raises(ValueError, match="rule set name"):
        RuleSet.compile("Bad@Name", 1, [])
    with pytest.raises(ValueError, match="version"):
        RuleSet.compile("ok", 0, [])


def test_string_actions_and_policies_are_accepted() -> None:
    # The point: a plain string where the type says Action (as YAML and JSON give it).
    rule = Rule("r", "true", "challenge")  # type: ignore[arg-type]
    rules = RuleSet.compile("s", 1, [rule], "fail_closed")
    assert rules.on_error is ErrorPolicy.FAIL_CLOSED
    assert rules.decide(RECORD).action is Action.CHALLENGE


@pytest.mark.parametrize(
    ("text", "expected"),
    [("waf", ("waf", None)), ("waf@3", ("waf", 3)), ("my-rules.v2@12", ("my-rules.v2", 12))],
)
def test_parse_ruleset_ref(text: str, expected: tuple[str, int | None]) -> None:
    assert parse_ruleset_ref(text) == expected


@pytest.mark.parametrize("text", ["waf@", "waf@0", "waf@x", "@3", "WAF@1"])
def test_parse_ruleset_ref_refuses(text: str) -> None:
    with pytest.raises(ValueError, match=r"rule set name|version"):
        parse_ruleset_ref(text)


@given(
    st.lists(
        st.tuples(st.integers(-5, 5), st.sampled_from(list(Action)), st.booleans()), max_size=8
    )
)
def test_decide_is_the_first_deciding_match_of_evaluate_all(
    specs: list[tuple[int, Action, bool]],
) -> None:
    rules = ruleset(
        *(
            Rule(f"r{i}", "true" if hit else "false", action, prio)
            for i, (prio, action, hit) in enumerate(specs)
        )
    )
    quick, full = rules.decide(RECORD), rules.evaluate_all(RECORD)
    assert (quick.action, quick.rule_id) == (full.action, full.rule_id)
    assert full.matched[: len(quick.matched)] == quick.matched
    deciding = [
        i
        for i, (_, a, hit) in sorted(enumerate(specs), key=lambda e: -e[1][0])
        if hit and a is not Action.LOG
    ]
    assert quick.rule_id == (f"r{deciding[0]}" if deciding else None)


def test_a_record_cannot_smuggle_in_private_slots() -> None:
    rules = ruleset(
        Rule("sqli", 'urlDecode(query).lowerAscii().contains("union")', Action.BLOCK),
        Rule("sqli-2", 'urlDecode(query).lowerAscii().matches("select")', Action.BLOCK),
    )
    attack = dict(normalize_record({"query": "id=1+UNION+SELECT+1"}))
    poisoned: dict[str, object] = {
        **attack,
        "@m0": "harmless",
        "@m1": "harmless",
        "@rx0": frozenset(),
    }
    assert rules.decide(poisoned).action is Action.BLOCK
