"""Deterministic replay of recorded traffic, tallies, and the verdict diff of two rule sets.

Everything here is a pure function of its inputs: records are evaluated in order, the only
time is the frozen clock's, and every mapping in a result is built in a fixed order (actions
in Action order, rule ids sorted), so the same input gives an equal - and equally
serialised - result every time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from shieldx.shadow.experiments.stats import VariantCounts
from shieldx.shadow.rules.domain import Action, Decision, RuleSet
from shieldx.shadow.rules.records import Label, TrafficRecord


@dataclass(frozen=True, slots=True)
class FrozenClock:
    """A clock that always says the same time."""

    at: datetime

    def now(self) -> datetime:
        """The frozen instant."""
        return self.at


@dataclass(frozen=True, slots=True)
class ReplaySummary:
    """Counts over a replay."""

    records: int
    actions: Mapping[str, int]
    records_with_errors: int
    rule_failures: Mapping[str, int]
    decided_by: Mapping[str, int]
    matches: Mapping[str, int]
    counts: VariantCounts


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """The decisions of a replay, in input order, and their summary."""

    ruleset: str
    evaluated_at: datetime
    decisions: tuple[Decision, ...]
    summary: ReplaySummary


def replay(
    records: Iterable[TrafficRecord],
    ruleset: RuleSet,
    clock: FrozenClock,
    *,
    exhaustive: bool = False,
) -> ReplayResult:
    """Evaluate records in order; `exhaustive` evaluates every rule (all matches listed)."""
    evaluate = ruleset.evaluate_all if exhaustive else ruleset.decide
    traffic = list(records)
    decisions = tuple(evaluate(item.record) for item in traffic)
    return ReplayResult(
        ruleset.ref, clock.now(), decisions, summarize(decisions, [t.label for t in traffic])
    )


def summarize(decisions: Sequence[Decision], labels: Sequence[Label | None]) -> ReplaySummary:
    """Tally decisions: per action, per deciding rule, per matching rule, failures, confusion."""
    actions = Counter(d.action.value for d in decisions)
    failures = Counter(f.rule_id for d in decisions for f in d.errors)
    decided = Counter(d.rule_id or "(default)" for d in decisions)
    matches = Counter(rule for d in decisions for rule in d.matched)
    return ReplaySummary(
        records=len(decisions),
        actions={a.value: actions[a.value] for a in Action},
        records_with_errors=sum(1 for d in decisions if d.errors),
        rule_failures=_sorted(failures),
        decided_by=_sorted(decided),
        matches=_sorted(matches),
        counts=variant_counts(decisions, labels),
    )


def variant_counts(decisions: Sequence[Decision], labels: Sequence[Label | None]) -> VariantCounts:
    """The A/B tallies of a variant: n, blocks and the confusion counts of labelled records."""
    if len(decisions) != len(labels):
        raise ValueError("need one label (or None) per decision")
    tally: Counter[tuple[Label | None, bool]] = Counter(
        (label, d.blocked) for d, label in zip(decisions, labels, strict=True)
    )
    return VariantCounts(
        n=len(decisions),
        blocks=sum(1 for d in decisions if d.blocked),
        true_positives=tally[(Label.MALICIOUS, True)],
        false_positives=tally[(Label.BENIGN, True)],
        true_negatives=tally[(Label.BENIGN, False)],
        false_negatives=tally[(Label.MALICIOUS, False)],
    )


@dataclass(frozen=True, slots=True)
class VerdictDiff:
    """How a candidate rule set's verdicts differ from control's on the same requests.

    `matrix[control_action][candidate_action]` counts requests; `new_blocks` attributes the
    requests control let through and candidate stops to the candidate rule that decided;
    `new_allows` attributes the requests control stopped and candidate lets through to the
    control rule that had stopped them. The blast radius is what enforcing the candidate
    would newly stop: that many requests from that many distinct client IPs.
    """

    matrix: Mapping[str, Mapping[str, int]]
    new_blocks: Mapping[str, int]
    new_allows: Mapping[str, int]
    blast_radius_requests: int
    blast_radius_clients: int


def diff_verdicts(
    records: Iterable[TrafficRecord], control: RuleSet, candidate: RuleSet
) -> VerdictDiff:
    """Evaluate both rule sets on every record and diff their verdicts."""
    matrix: Counter[tuple[str, str]] = Counter()
    new_blocks: Counter[str] = Counter()
    new_allows: Counter[str] = Counter()
    clients: set[str] = set()
    for item in records:
        before, after = control.decide(item.record), candidate.decide(item.record)
        matrix[(before.action.value, after.action.value)] += 1
        if after.blocked and not before.blocked:
            new_blocks[after.rule_id or "(default)"] += 1
            clients.add(item.record["ip"])
        elif before.blocked and not after.blocked:
            new_allows[before.rule_id or "(default)"] += 1
    table = {a.value: {b.value: matrix[(a.value, b.value)] for b in Action} for a in Action}
    return VerdictDiff(
        table, _sorted(new_blocks), _sorted(new_allows), sum(new_blocks.values()), len(clients)
    )


def _sorted(counter: Counter[str]) -> dict[str, int]:
    return {key: counter[key] for key in sorted(counter)}
