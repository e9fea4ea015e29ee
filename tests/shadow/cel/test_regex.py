from __future__ import annotations

import pytest
import re2  # type: ignore[import-untyped]
from hypothesis import given
from hypothesis import strategies as st

from shieldx.shadow.cel.parser import parse
from shieldx.shadow.cel.regex import PatternSet, compile_regex, regex_groups
from shieldx.shadow.cel.types import CelEvalError

PATTERNS = ["ab+c", "^x", "y$", r"\d{3}", "(?i)select", "é", "a.*?z", "[^a-z]"]


@given(st.text(alphabet="abcxyzé0123 SELECTselect-", max_size=40))
def test_a_set_finds_exactly_what_single_searches_find(text: str) -> None:
    patterns = PatternSet(PATTERNS)
    expected = {i for i, p in enumerate(PATTERNS) if re2.search(p, text)}
    assert patterns.matching(text) == expected
    assert patterns.search(text) == bool(expected)


class _FailingSet:
    """Stands in for an RE2::Set whose DFA ran out of memory (it then reports no match at all).

    The failure cannot be provoked reliably through the Python binding, so the fallback is
    exercised with this stand-in for the third-party object.
    """

    def Match(self, text: str) -> None:  # the RE2 binding's method name
        return None


def test_when_the_dfa_gives_up_the_patterns_are_searched_one_by_one() -> None:
    patterns = PatternSet(PATTERNS)
    object.__setattr__(patterns, "_set", _FailingSet())
    assert patterns.matching("abbbc 123") == {0, 3, 7}
    assert patterns.search("abbbc") is True
    assert patterns.search("q") is False


def test_bad_patterns_are_reported_quietly() -> None:
    with pytest.raises(CelEvalError, match="invalid regular expression"):
        compile_regex("(?<=a)b")


def test_patterns_are_grouped_by_subject() -> None:
    trees = [
        parse('q.matches("a") || q.matches("b")'),
        parse('matches(q, "a") && p.matches("c")'),
        parse("q.matches(pattern)"),
    ]
    groups = regex_groups(trees, 1024)
    assert set(groups) == {parse("q"), parse("p")}
    assert dict(groups[parse("q")].index) == {"a": 0, "b": 1}
    assert groups[parse("q")].slot != groups[parse("p")].slot
