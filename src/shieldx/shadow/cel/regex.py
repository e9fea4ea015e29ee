"""RE2 regexes for CEL `matches`, batched: many patterns on one text in a single pass.

A WAF rule set runs a dozen patterns over the same decoded query. Calling RE2 once per
pattern costs about 1.5 µs each, mostly in the Python wrapper; an RE2::Set runs all of them
in one DFA pass for about the price of one. A Set cannot fall back to the NFA when its DFA
exceeds the memory budget - it would silently report "no match" - so every Set carries an
always-matching sentinel pattern: a result without the sentinel means the DFA gave up, and
the patterns are then searched one by one (RE2's single-pattern search does fall back).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import re2  # type: ignore[import-untyped]

from shieldx.shadow.cel.ast import Call, Expr, Literal, walk
from shieldx.shadow.cel.types import CelEvalError

_SET_MEMORY: Final = 64 << 20


def regex_options() -> object:
    """RE2 options: errors are reported to the rule author, not logged to stderr."""
    options = re2.Options()
    options.log_errors = False
    options.max_mem = _SET_MEMORY
    return options


def compile_regex(pattern: str) -> object:
    """Compile one RE2 pattern (linear-time matching: no catastrophic backtracking)."""
    try:
        return re2.compile(pattern, regex_options())
    except re2.error as exc:
        reason = exc.args[0] if exc.args else ""
        text = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
        raise CelEvalError(f"invalid regular expression: {text}") from None


class PatternSet:
    """Several RE2 patterns searched in one pass over a text."""

    __slots__ = ("_fallback", "_set", "patterns")

    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns = tuple(patterns)
        self._fallback = tuple(compile_regex(p) for p in self.patterns)
        self._set = re2.Set.SearchSet(regex_options())
        self._set.Add("")  # the sentinel: matches every text, so its absence reveals a DFA failure
        for pattern in self.patterns:
            self._set.Add(pattern)
        self._set.Compile()

    def matching(self, text: str) -> frozenset[int]:
        """The indexes of the patterns found somewhere in text."""
        hits = self._set.Match(text)
        if hits and 0 in hits:
            return frozenset(hit - 1 for hit in hits if hit)
        return frozenset(i for i, rx in enumerate(self._fallback) if rx.search(text))  # type: ignore[attr-defined]

    def search(self, text: str) -> bool:
        """True when any of the patterns occurs in text."""
        hits = self._set.Match(text)
        if hits and 0 in hits:
            return len(hits) > 1
        return any(rx.search(text) for rx in self._fallback)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class RegexGroup:
    """The constant patterns applied to one subject expression, and its memo slot."""

    slot: str
    patterns: PatternSet
    index: Mapping[str, int]


def matches_parts(node: Call) -> tuple[Expr, str] | None:
    """The subject and the constant pattern of a `matches` call, if it has both."""
    if node.name != "matches":
        return None
    parts = ((node.target,) if node.target is not None else ()) + node.args
    if len(parts) != 2 or not isinstance(parts[1], Literal) or not isinstance(parts[1].value, str):
        return None
    return parts[0], parts[1].value


def regex_groups(trees: Iterable[Expr], max_length: int) -> dict[Expr, RegexGroup]:
    """Group the constant `matches` patterns of all trees by subject, one Set per subject."""
    by_subject: dict[Expr, list[str]] = {}
    for tree in trees:
        for node in walk(tree):
            parts = matches_parts(node) if isinstance(node, Call) else None
            if parts is None:
                continue
            subject, pattern = parts
            if len(pattern) > max_length:
                continue  # the compiler reports it at the right position
            try:
                compile_regex(pattern)
            except CelEvalError:
                continue
            patterns = by_subject.setdefault(subject, [])
            if pattern not in patterns:
                patterns.append(pattern)
    groups = {}
    for number, (subject, patterns) in enumerate(by_subject.items()):
        index = {pattern: i for i, pattern in enumerate(patterns)}
        groups[subject] = RegexGroup(f"@rx{number}", PatternSet(patterns), index)
    return groups
