"""In-process decision benchmark: our closures against cel-python's two runners.

A decision is one RuleSet.decide on one record (rules by priority until one decides). Every
decision is timed with perf_counter_ns; decisions_per_s is the count over the wall time of the
whole loop (timer overhead included), p99_us the 99th percentile of the single timings.
cel-python runs the same rules, records and decision semantics; its records are converted to
cel-python values once, outside the timing, which favours it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass

from celpy import celtypes

from shieldx.shadow.cel import reference as celpy_reference
from shieldx.shadow.cel.types import CelEvalError
from shieldx.shadow.rules.corpus import generate_corpus
from shieldx.shadow.rules.domain import Action, RuleSet
from shieldx.shadow.rules.records import RequestRecord
from shieldx.shadow.rules.sample_rules import sample_ruleset


@dataclass(frozen=True, slots=True)
class BenchResult:
    """The figures of one engine over one run."""

    engine: str
    rules: int
    decisions: int
    decisions_per_s: float
    p99_us: float


class CelpyRuleSet:
    """A rule set evaluated by cel-python with RuleSet's decision semantics (fail-open)."""

    def __init__(
        self, ruleset: RuleSet, runner: celpy_reference.RunnerKind = "interpreted"
    ) -> None:
        env = celpy_reference.environment(runner)
        by_id = {rule.id: rule for rule in ruleset.rules}
        self._plan = [
            (
                rule_id,
                Action(by_id[rule_id].action),
                celpy_reference.program(by_id[rule_id].expression, env=env),
            )
            for rule_id in ruleset.evaluation_order
        ]

    def decide(self, variables: Mapping[str, celtypes.Value]) -> tuple[Action, str | None]:
        """The deciding action and rule for one record (already converted with `activation`)."""
        for rule_id, action, runner in self._plan:
            try:
                hit = celpy_reference.evaluate(runner, variables)
            except CelEvalError:
                continue
            if hit is True and action is not Action.LOG:
                return action, rule_id
        return Action.ALLOW, None


def time_decisions(
    engine: str, rules: int, decide: Callable[[int], object], decisions: int
) -> BenchResult:
    """Call decide(i) for i in range(decisions), timing each call."""
    timings = [0] * decisions
    clock = time.perf_counter_ns
    start = clock()
    for i in range(decisions):
        before = clock()
        decide(i)
        timings[i] = clock() - before
    elapsed = (clock() - start) / 1e9
    timings.sort()
    p99 = timings[min(decisions - 1, int(decisions * 0.99))] / 1000
    return BenchResult(engine, rules, decisions, decisions / elapsed, p99)


def bench_closures(
    ruleset: RuleSet, records: Sequence[RequestRecord], decisions: int = 20_000
) -> BenchResult:
    """Benchmark our compiled closures."""
    count, decide = len(records), ruleset.decide
    for record in records[:200]:
        decide(record)  # warm-up
    return time_decisions(
        "closures", len(ruleset.rules), lambda i: decide(records[i % count]), decisions
    )


def bench_celpy(
    ruleset: RuleSet,
    records: Sequence[RequestRecord],
    runner: celpy_reference.RunnerKind,
    decisions: int = 200,
) -> BenchResult:
    """Benchmark cel-python's runner on the same rules and records."""
    reference = CelpyRuleSet(ruleset, runner)
    converted = [celpy_reference.activation(r) for r in records[: max(decisions, 1)]]
    count = len(converted)
    reference.decide(converted[0])  # warm-up
    return time_decisions(
        f"cel-python {runner}",
        len(ruleset.rules),
        lambda i: reference.decide(converted[i % count]),
        decisions,
    )


def run_benchmark(
    *,
    decisions: int = 20_000,
    celpy_decisions: int = 200,
    records: int = 5000,
    seed: int = 20240601,
) -> dict[str, object]:
    """{rules, decisions_per_s, p99_us} for the 50-rule sample set on the sample corpus.

    `engines` adds every engine's figures; celpy_decisions=0 skips cel-python.
    """
    ruleset = sample_ruleset()
    corpus = [item.record for item in generate_corpus(records, seed=seed)]
    ours = bench_closures(ruleset, corpus, decisions)
    results = [ours]
    if celpy_decisions > 0:
        results += [
            bench_celpy(ruleset, corpus, runner, celpy_decisions)
            for runner in ("interpreted", "compiled")
        ]
    return {
        "rules": ours.rules,
        "decisions_per_s": round(ours.decisions_per_s, 1),
        "p99_us": round(ours.p99_us, 1),
        "engines": [asdict(result) for result in results],
    }
