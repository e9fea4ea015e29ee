"""The A/B test report: per-variant counts and rates, the verdict diff, the blast radius,
the Bayesian comparison, the SRM check, and whether a decision may be taken. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shieldx.shadow.experiments.sketch import STANDARD_ERROR
from shieldx.shadow.experiments.stats import SRM_THRESHOLD, ABResult, Effect, compare
from shieldx.shadow.experiments.store import Experiment, ExperimentTotals
from shieldx.shadow.experiments.tallies import VariantTally
from shieldx.shadow.rules.domain import Action
from shieldx.shadow.timeutil import iso


@dataclass(frozen=True, slots=True)
class Readiness:
    """Whether the test may be decided, what blocks it, and what the statistics recommend."""

    blocked_by: tuple[str, ...]
    recommendation: str | None
    srm_blocked: bool

    @property
    def ready(self) -> bool:
        """True when nothing blocks a decision."""
        return not self.blocked_by


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def counts_doc(tally: VariantTally) -> dict[str, Any]:
    """Counters and rates (None where a rate is undefined)."""
    return {
        **tally.as_dict(),
        "rates": {
            "block_rate": _rate(tally.blocks, tally.n),
            "false_positive_rate": _rate(
                tally.false_positives, tally.false_positives + tally.true_negatives
            ),
            "detection_rate": _rate(
                tally.true_positives, tally.true_positives + tally.false_negatives
            ),
            "error_rate": _rate(tally.errors, tally.n),
        },
    }


def variant_doc(ref: tuple[str, int], tally: VariantTally) -> dict[str, Any]:
    """One variant: its rule set, counters and rates."""
    return {"ruleset": ref[0], "version": ref[1], **counts_doc(tally)}


def effect_doc(effect: Effect) -> dict[str, Any]:
    """One difference scale of the posterior."""
    return {
        "expected": effect.expected,
        "stddev": effect.stddev,
        "ci_95": [effect.ci_low, effect.ci_high],
        "chance_to_win": effect.chance_to_win,
        "risk": {"control": effect.risk_control, "candidate": effect.risk_candidate},
        "error": effect.error,
    }


def readiness(
    e: Experiment, totals: ExperimentTotals, result: ABResult, threshold: float
) -> Readiness:
    """What blocks a decision; the recommendation from the absolute effect's chance to win."""
    blocked: list[str] = []
    srm_blocked = not result.srm_ok
    if srm_blocked:
        blocked.append(
            f"sample ratio mismatch: p = {result.srm_p_value:.2e} < {SRM_THRESHOLD} for the "
            f"configured {e.split:g} % split; assignment is broken (check the sticky key), "
            "so no decision can be trusted"
        )
    for name, tally in (("control", totals.control), ("candidate", totals.candidate)):
        if tally.n < e.min_samples:
            blocked.append(f"{name} has {tally.n} of the {e.min_samples} samples required")
    effect = result.absolute
    recommendation = None
    if effect.error is None:
        if effect.chance_to_win >= threshold:
            recommendation = "candidate"
        elif effect.chance_to_win <= 1 - threshold:
            recommendation = "control"
    return Readiness(tuple(blocked), recommendation, srm_blocked)


def experiment_doc(e: Experiment) -> dict[str, Any]:
    """A test's definition and state."""
    return {
        "id": e.id,
        "tenant": e.tenant,
        "name": e.name,
        "status": e.status,
        "control": f"{e.control[0]}@{e.control[1]}",
        "candidate": f"{e.candidate[0]}@{e.candidate[1]}",
        "split": e.split,
        "metric": e.metric.value,
        "prior": {
            "mean": e.prior.mean,
            "variance": e.prior.variance,
            "proper": e.prior.proper,
            "scale": e.prior.scale,
        },
        "min_samples": e.min_samples,
        "sticky_key": e.sticky_key,
        "seed": e.hash_seed,
        "winner": e.winner,
        "reason": e.reason,
        "created_at": iso(e.created_at),
        "decided_at": iso(e.decided_at),
        "stopped_at": iso(e.stopped_at),
    }


def experiment_report(
    e: Experiment, totals: ExperimentTotals, *, client_bound: int, threshold: float
) -> dict[str, Any]:
    """GET /shadow/results/{id}."""
    result = compare(
        totals.control.counts(),
        totals.candidate.counts(),
        e.metric,
        prior=e.prior,
        candidate_share=e.split / 100.0,
    )
    ready = readiness(e, totals, result, threshold)
    assigned = totals.control.n + totals.candidate.n
    compared = sum(totals.matrix.values())
    agreeing = sum(n for (a, b), n in totals.matrix.items() if a == b)
    exact = totals.exact_clients < client_bound
    if exact or totals.sketch is None:
        clients = totals.exact_clients
    else:
        clients = max(client_bound, round(totals.sketch.estimate()))
    return {
        **experiment_doc(e),
        "variants": {
            "control": variant_doc(e.control, totals.control),
            "candidate": variant_doc(e.candidate, totals.candidate),
        },
        "verdict_diff": {
            "requests": compared,
            "agreement_rate": _rate(agreeing, compared),
            "matrix": {
                a.value: {b.value: totals.matrix.get((a.value, b.value), 0) for b in Action}
                for a in Action
            },
            "new_blocks": dict(sorted(totals.new_blocks.items())),
            "new_allows": dict(sorted(totals.new_allows.items())),
        },
        "blast_radius": {
            "requests": sum(totals.new_blocks.values()),
            "clients": clients,
            "clients_exact": exact,
            "clients_exact_bound": client_bound,
            "clients_relative_error": 0.0 if exact else STANDARD_ERROR,
        },
        "bayesian": {
            "metric": e.metric.value,
            "lower_is_better": e.metric.lower_is_better,
            "control_rate": result.control_rate,
            "candidate_rate": result.candidate_rate,
            "absolute": effect_doc(result.absolute),
            "relative": effect_doc(result.relative),
        },
        "srm": {
            "p_value": result.srm_p_value,
            "ok": result.srm_ok,
            "threshold": SRM_THRESHOLD,
            "expected_candidate_share": e.split / 100.0,
            "observed_candidate_share": _rate(totals.candidate.n, assigned),
        },
        "decision": {
            "ready": ready.ready,
            "blocked_by": list(ready.blocked_by),
            "recommendation": ready.recommendation,
            "threshold": threshold,
        },
    }
