"""Counters kept in memory between flushes: A/B test tallies and deployment stage tallies.

The request paths only add to these (on the event loop, no locks, no I/O); the flusher
takes the whole buffer at once and writes it as increments, so several processes can
count into the same rows. A write that fails puts the taken counts back.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields

from shieldx.shadow.experiments.sketch import DistinctSketch
from shieldx.shadow.experiments.stats import VariantCounts
from shieldx.shadow.flags.domain import Variant
from shieldx.shadow.rules.domain import Decision
from shieldx.shadow.rules.records import Label

DEFAULT_KEY = "(default)"


@dataclass(slots=True)
class VariantTally:
    """What one variant's rule set did on the requests assigned to that variant."""

    n: int = 0
    blocks: int = 0
    true_positives: int = 0
    false_positives: int = 0
    true_negatives: int = 0
    false_negatives: int = 0
    errors: int = 0

    def observe(self, decision: Decision, label: Label | None) -> None:
        """Count one decision, with its label when the record had one."""
        self.n += 1
        blocked = decision.blocked
        if blocked:
            self.blocks += 1
        if decision.errors:
            self.errors += 1
        if label is Label.MALICIOUS:
            if blocked:
                self.true_positives += 1
            else:
                self.false_negatives += 1
        elif label is Label.BENIGN:
            if blocked:
                self.false_positives += 1
            else:
                self.true_negatives += 1

    def add(self, other: VariantTally) -> None:
        """Add another tally's counts to this one."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, int]:
        """The counters by column name."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def counts(self) -> VariantCounts:
        """The statistics module's view of this tally."""
        return VariantCounts(
            self.n,
            self.blocks,
            self.true_positives,
            self.false_positives,
            self.true_negatives,
            self.false_negatives,
        )


@dataclass(slots=True)
class ExperimentTally:
    """An A/B test's counts: per variant, and the verdict diff of both rule sets."""

    control: VariantTally = field(default_factory=VariantTally)
    candidate: VariantTally = field(default_factory=VariantTally)
    matrix: Counter[tuple[str, str]] = field(default_factory=Counter)
    new_blocks: Counter[str] = field(default_factory=Counter)
    new_allows: Counter[str] = field(default_factory=Counter)
    clients: set[str] = field(default_factory=set)
    sketch: DistinctSketch | None = None

    def observe(
        self,
        variant: Variant,
        control: Decision,
        candidate: Decision,
        label: Label | None,
        client: str,
        client_bound: int,
    ) -> None:
        """Count one record on which both rule sets were evaluated."""
        if variant is Variant.CANDIDATE:
            self.candidate.observe(candidate, label)
        else:
            self.control.observe(control, label)
        self.matrix[(control.action.value, candidate.action.value)] += 1
        if candidate.blocked and not control.blocked:
            self.new_blocks[candidate.rule_id or DEFAULT_KEY] += 1
            if len(self.clients) < client_bound:
                self.clients.add(client)
            if self.sketch is None:
                self.sketch = DistinctSketch()
            self.sketch.add(client)
        elif control.blocked and not candidate.blocked:
            self.new_allows[control.rule_id or DEFAULT_KEY] += 1

    def merge(self, other: ExperimentTally, client_bound: int) -> None:
        """Absorb another tally."""
        self.control.add(other.control)
        self.candidate.add(other.candidate)
        self.matrix.update(other.matrix)
        self.new_blocks.update(other.new_blocks)
        self.new_allows.update(other.new_allows)
        room = client_bound - len(self.clients)
        if room > 0:
            self.clients.update(list(other.clients)[:room])
        if other.sketch is not None:
            if self.sketch is None:
                self.sketch = DistinctSketch()
            self.sketch.merge(other.sketch)


@dataclass(slots=True)
class StageTally:
    """A deployment stage's live traffic: the new version's verdicts and the old one's."""

    requests: int = 0
    blocks: int = 0
    baseline_blocks: int = 0
    errors: int = 0
    benign: int = 0
    false_positives: int = 0

    def observe(self, new: Decision, baseline: Decision | None, label: Label | None) -> None:
        """Count one request judged by the new version (BASELINE: the old one, in shadow)."""
        self.requests += 1
        if new.blocked:
            self.blocks += 1
        if baseline is not None and baseline.blocked:
            self.baseline_blocks += 1
        if new.errors:
            self.errors += 1
        if label is Label.BENIGN:
            self.benign += 1
            if new.blocked:
                self.false_positives += 1

    def add(self, other: StageTally) -> None:
        """Add another tally's counts to this one."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, int]:
        """The counters by column name."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


StageKey = tuple[str, int]


class PendingCounts:
    """Everything counted since the last flush."""

    def __init__(self, client_bound: int) -> None:
        self.client_bound = client_bound
        self.tests: dict[str, ExperimentTally] = {}
        self.stages: dict[StageKey, StageTally] = {}

    def test(self, test_id: str) -> ExperimentTally:
        """The pending tally of one test (created empty)."""
        tally = self.tests.get(test_id)
        if tally is None:
            tally = self.tests[test_id] = ExperimentTally()
        return tally

    def stage(self, deployment_id: str, seq: int) -> StageTally:
        """The pending tally of one deployment stage attempt (created empty)."""
        key = (deployment_id, seq)
        tally = self.stages.get(key)
        if tally is None:
            tally = self.stages[key] = StageTally()
        return tally

    def take(self) -> PendingCounts:
        """Hand over everything pending and start again from zero."""
        taken = PendingCounts(self.client_bound)
        taken.tests, self.tests = self.tests, {}
        taken.stages, self.stages = self.stages, {}
        return taken

    def restore(self, taken: PendingCounts) -> None:
        """Put back counts whose write failed."""
        for test_id, tally in taken.tests.items():
            self.test(test_id).merge(tally, self.client_bound)
        for (deployment_id, seq), stage in taken.stages.items():
            self.stage(deployment_id, seq).add(stage)

    def __bool__(self) -> bool:
        return bool(self.tests or self.stages)
