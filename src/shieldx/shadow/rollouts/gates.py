"""Gate judgement for one stage of a progressive deployment: pass, fail or inconclusive.

judge_stage(counts, gates, fleet) applies, in this order:

0. The instance gates (judge_fleet, once any registered gateway has sent a heartbeat):
   `instance_health` FAILs unless more than 50 % of the registered gateways are healthy
   (a heartbeat within 60 s and a decision error rate of at most 5 % at the gateway), and
   `decision_latency_p95` FAILs when a fresh gateway's p95 decision latency is 1,000 ms or
   more; either failing fails the stage at once, whatever its samples.
1. Traffic. No request in the stage, or fewer than `min_samples_per_stage`: INCONCLUSIVE
   (nothing else is decided on a sample that small).
2. `max_false_positive_rate` (Bayesian; needs labelled benign traffic). The false-positive
   rate r = P(blocked | benign) has the prior Beta(1, (1 - L) / L), whose mean is the limit L
   (as if one false positive had been seen in 1/L benign requests: neither guilty nor
   innocent before any data; a uniform prior would fail a stage after one clean request,
   since most of its mass lies above a small limit). The posterior is
   Beta(1 + FP, (1 - L) / L + benign - FP); with p = P(r > L): FAIL when p >= confidence,
   PASS when p <= 1 - confidence, INCONCLUSIVE between (more traffic will tell). No
   labelled benign request in the stage: INCONCLUSIVE. A limit of 0 means "none at all":
   FAIL on any false positive, PASS otherwise.
3. `max_block_rate_increase` (threshold; no labels needed). The new version's block rate
   minus the previous version's on the same requests (evaluated in shadow), in absolute
   terms (0.01 = one percentage point): FAIL when the increase exceeds the limit, else PASS.
4. `max_error_rate` (threshold). Requests with at least one rule failure over all requests:
   FAIL when above the limit, else PASS.

The stage verdict is FAIL if any gate fails (the reason is the first failing gate), else
INCONCLUSIVE if any gate is inconclusive, else PASS. "Blocked" means block or challenge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from scipy.stats import beta  # type: ignore[import-untyped]


class Verdict(StrEnum):
    """The outcome of judging a stage."""

    PASS = "pass"  # noqa: S105 - a verdict, not a password
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True, slots=True)
class Gates:
    """The limits a stage must respect; a limit left as None is not checked."""

    max_false_positive_rate: float | None = None
    max_block_rate_increase: float | None = None
    max_error_rate: float | None = None
    min_samples_per_stage: int = 0
    confidence: float = 0.95

    def __post_init__(self) -> None:
        for name in ("max_false_positive_rate", "max_block_rate_increase", "max_error_rate"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1 (got {value})")
        if self.min_samples_per_stage < 0:
            raise ValueError(
                f"min_samples_per_stage must not be negative (got {self.min_samples_per_stage})"
            )
        if not 0.5 < self.confidence < 1.0:
            raise ValueError(f"confidence must be between 0.5 and 1 (got {self.confidence})")


@dataclass(frozen=True, slots=True)
class StageCounts:
    """What the stage's live traffic did under the new version, and the old one in shadow."""

    requests: int
    blocks: int
    baseline_blocks: int
    errors: int = 0
    benign: int = 0
    false_positives: int = 0

    def __post_init__(self) -> None:
        values = (
            self.requests,
            self.blocks,
            self.baseline_blocks,
            self.errors,
            self.benign,
            self.false_positives,
        )
        if min(values) < 0:
            raise ValueError("stage counts must not be negative")
        if max(self.blocks, self.baseline_blocks, self.errors, self.benign) > self.requests:
            raise ValueError("blocks, errors and benign cannot exceed requests")
        if self.false_positives > self.benign:
            raise ValueError("false_positives cannot exceed benign")


@dataclass(frozen=True, slots=True)
class GateCheck:
    """One gate's verdict with the observed figure, its limit and, if Bayesian, P(over limit)."""

    gate: str
    verdict: Verdict
    observed: float | None
    limit: float | None
    probability_over_limit: float | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Judgement:
    """The stage verdict, the reason for it and every gate's figures."""

    verdict: Verdict
    reason: str
    checks: tuple[GateCheck, ...]


@dataclass(frozen=True, slots=True)
class InstanceReport:
    """A registered gateway as the instance gates see it (age None: it never reported)."""

    gateway_id: str
    heartbeat_age_s: float | None
    error_rate: float = 0.0
    latency_p95_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class FleetLimits:
    """The seed's instance gates: more than half the gateways healthy, p95 under a second."""

    max_heartbeat_age_s: float = 60.0
    max_instance_error_rate: float = 0.05
    min_healthy_share: float = 0.5
    max_latency_p95_ms: float = 1000.0

    def healthy(self, instance: InstanceReport) -> bool:
        """A fresh heartbeat with an error rate within the limit."""
        age = instance.heartbeat_age_s
        return (
            age is not None
            and age <= self.max_heartbeat_age_s
            and instance.error_rate <= self.max_instance_error_rate
        )


def judge_fleet(instances: Sequence[InstanceReport], limits: FleetLimits) -> tuple[GateCheck, ...]:
    """instance_health (share of healthy gateways) and decision_latency_p95 (the slowest
    fresh gateway's p95); no checks when no gateway is registered."""
    if not instances:
        return ()
    healthy = [i for i in instances if limits.healthy(i)]
    share = len(healthy) / len(instances)
    ok = share > limits.min_healthy_share
    health = GateCheck(
        "instance_health",
        Verdict.PASS if ok else Verdict.FAIL,
        share,
        limits.min_healthy_share,
        detail=f"{len(healthy)} of {len(instances)} gateways healthy (heartbeat within "
        f"{limits.max_heartbeat_age_s:g}s, error rate at most {limits.max_instance_error_rate}); "
        f"{'more' if ok else 'not more'} than {limits.min_healthy_share:.0%}",
    )
    fresh = [
        i.latency_p95_ms
        for i in instances
        if i.heartbeat_age_s is not None and i.heartbeat_age_s <= limits.max_heartbeat_age_s
    ]
    if not fresh:
        latency = GateCheck(
            "decision_latency_p95",
            Verdict.INCONCLUSIVE,
            None,
            limits.max_latency_p95_ms,
            detail="no gateway reported a decision latency recently",
        )
    else:
        worst = max(fresh)
        slow = worst >= limits.max_latency_p95_ms
        latency = GateCheck(
            "decision_latency_p95",
            Verdict.FAIL if slow else Verdict.PASS,
            worst,
            limits.max_latency_p95_ms,
            detail=f"slowest gateway p95 {worst:g} ms {'is not' if slow else 'is'} under "
            f"{limits.max_latency_p95_ms:g} ms",
        )
    return health, latency


def judge_stage(counts: StageCounts, gates: Gates, fleet: Sequence[GateCheck] = ()) -> Judgement:
    """Judge a stage's live counts against the gates (rule in the module docstring).

    FLEET holds the instance gates' checks (judge_fleet): a failing one fails the stage
    whatever the samples; they are listed with the others.
    """
    failed = next((c for c in fleet if c.verdict is Verdict.FAIL), None)
    if failed is not None:
        return Judgement(Verdict.FAIL, f"{failed.gate}: {failed.detail}", tuple(fleet))
    judgement = _judge_counts(counts, gates)
    if not fleet:
        return judgement
    checks = (*judgement.checks, *fleet)
    if judgement.verdict is Verdict.PASS:
        waiting = next((c for c in fleet if c.verdict is Verdict.INCONCLUSIVE), None)
        if waiting is not None:
            return Judgement(Verdict.INCONCLUSIVE, f"{waiting.gate}: {waiting.detail}", checks)
    return Judgement(judgement.verdict, judgement.reason, checks)


def _judge_counts(counts: StageCounts, gates: Gates) -> Judgement:
    if counts.requests == 0 or counts.requests < gates.min_samples_per_stage:
        check = GateCheck(
            "min_samples_per_stage",
            Verdict.INCONCLUSIVE,
            counts.requests,
            gates.min_samples_per_stage,
            detail=f"{counts.requests} requests so far, need {max(gates.min_samples_per_stage, 1)}",
        )
        return Judgement(Verdict.INCONCLUSIVE, check.detail, (check,))
    checks = []
    if gates.max_false_positive_rate is not None:
        checks.append(_false_positive_gate(counts, gates.max_false_positive_rate, gates.confidence))
    if gates.max_block_rate_increase is not None:
        increase = (counts.blocks - counts.baseline_blocks) / counts.requests
        checks.append(
            _threshold("max_block_rate_increase", increase, gates.max_block_rate_increase)
        )
    if gates.max_error_rate is not None:
        checks.append(
            _threshold("max_error_rate", counts.errors / counts.requests, gates.max_error_rate)
        )
    for verdict in (Verdict.FAIL, Verdict.INCONCLUSIVE):
        first = next((c for c in checks if c.verdict is verdict), None)
        if first is not None:
            return Judgement(verdict, f"{first.gate}: {first.detail}", tuple(checks))
    return Judgement(Verdict.PASS, "all gates passed", tuple(checks))


def _false_positive_gate(counts: StageCounts, limit: float, confidence: float) -> GateCheck:
    name = "max_false_positive_rate"
    if counts.benign == 0:
        return GateCheck(
            name,
            Verdict.INCONCLUSIVE,
            None,
            limit,
            detail="no labelled benign traffic in this stage",
        )
    observed = counts.false_positives / counts.benign
    if limit == 0:
        return _threshold(name, observed, limit)
    prior_benign = (1 - limit) / limit
    fp, clean = counts.false_positives, counts.benign - counts.false_positives
    p_over = float(beta.sf(limit, 1 + fp, prior_benign + clean))
    if p_over >= confidence:
        verdict, word = Verdict.FAIL, "exceeds"
    elif p_over <= 1 - confidence:
        verdict, word = Verdict.PASS, "is within"
    else:
        verdict, word = Verdict.INCONCLUSIVE, "may exceed"
    detail = (
        f"false-positive rate {observed:.4f} ({counts.false_positives}/{counts.benign}) {word} the limit "
        f"{limit}; P(rate > limit) = {p_over:.3f}"
    )
    return GateCheck(name, verdict, observed, limit, p_over, detail)


def _threshold(name: str, observed: float, limit: float) -> GateCheck:
    verdict = Verdict.FAIL if observed > limit else Verdict.PASS
    relation = "exceeds" if verdict is Verdict.FAIL else "is within"
    return GateCheck(
        name, verdict, observed, limit, detail=f"{observed:.4f} {relation} the limit {limit}"
    )
