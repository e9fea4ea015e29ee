"""Scores, findings and the evidence chain: pure rules, no I/O.

- A control is non_compliant if any of its checks is, not_applicable if all of its checks
  are, else compliant. Its score is the share of its applicable checks that are compliant.
- A framework's score is 100 x compliant controls / applicable controls (100 when none
  applies: nothing failed); the overall score is the mean of the frameworks' scores.
- A finding is a non-compliant control; its severity is the highest severity among its
  failing checks (from the framework file). It raises an alert when the framework's share of
  failing controls is above `alert_thresholds.<severity>`; low findings never alert.
- Evidence links: hash = SHA-256 of "prev|sha256|check|status|collected_at_us|report", so an
  edited, inserted or removed row breaks every later link.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shieldx.compliance.checks.domain import Outcome, Status
from shieldx.compliance.frameworks.domain import SEVERITIES, Control, Framework

GENESIS = "0" * 64


def canonical(data: Any) -> str:
    """The canonical JSON text of DATA (sorted keys, no spaces): what the SHA-256 covers."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def sha256_hex(text: str) -> str:
    """SHA-256 of TEXT (UTF-8) in hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def link_hash(
    prev: str, digest: str, check: str, status: str, collected_at_us: int, report_id: str
) -> str:
    """The chain hash of one evidence row."""
    return sha256_hex(f"{prev}|{digest}|{check}|{status}|{collected_at_us}|{report_id}")


def run_key(check: str, params: Mapping[str, Any]) -> str:
    """The identity of one check run: its name and parameters (same pair, one run)."""
    return check if not params else f"{check}{canonical(params)}"


@dataclass(frozen=True)
class ControlResult:
    """A control's verdict with the outcome of each of its checks (by run key)."""

    control: Control
    status: Status
    score: float
    severity: str | None
    runs: tuple[tuple[str, str, Outcome], ...]  # (check, run key, outcome)


@dataclass(frozen=True)
class FrameworkResult:
    """A framework's controls and score."""

    framework: Framework
    score: float
    controls: tuple[ControlResult, ...]

    @property
    def failing_share(self) -> float:
        """Failing controls / applicable controls."""
        applicable = [c for c in self.controls if c.status is not Status.NOT_APPLICABLE]
        failing = [c for c in applicable if c.status is Status.NON_COMPLIANT]
        return len(failing) / len(applicable) if applicable else 0.0


def judge_control(control: Control, outcomes: Mapping[str, Outcome]) -> ControlResult:
    """A control's status, score and finding severity from its checks' outcomes."""
    runs = tuple(
        (ref.check, run_key(ref.check, ref.params), outcomes[run_key(ref.check, ref.params)])
        for ref in control.checks
    )
    statuses = [outcome.status for _, _, outcome in runs]
    applicable = [s for s in statuses if s is not Status.NOT_APPLICABLE]
    failing = [
        ref.severity
        for ref, (_, _, outcome) in zip(control.checks, runs, strict=True)
        if outcome.status is Status.NON_COMPLIANT
    ]
    if failing:
        status = Status.NON_COMPLIANT
    elif applicable:
        status = Status.COMPLIANT
    else:
        status = Status.NOT_APPLICABLE
    score = (
        100.0 * sum(1 for s in applicable if s is Status.COMPLIANT) / len(applicable)
        if applicable
        else 100.0
    )
    severity = min(failing, key=SEVERITIES.index) if failing else None
    return ControlResult(control, status, round(score, 2), severity, runs)


def judge_framework(framework: Framework, outcomes: Mapping[str, Outcome]) -> FrameworkResult:
    """A framework's controls and score."""
    controls = tuple(judge_control(c, outcomes) for c in framework.controls)
    applicable = [c for c in controls if c.status is not Status.NOT_APPLICABLE]
    passed = sum(1 for c in applicable if c.status is Status.COMPLIANT)
    score = 100.0 * passed / len(applicable) if applicable else 100.0
    return FrameworkResult(framework, round(score, 2), controls)


def overall_score(results: Sequence[FrameworkResult]) -> float:
    """The mean of the frameworks' scores (100 with no framework enabled)."""
    return round(sum(r.score for r in results) / len(results), 2) if results else 100.0


@dataclass(frozen=True)
class Finding:
    """A non-compliant control, how bad, what to do, and whether it raises an alert."""

    framework: str
    control: str
    severity: str
    recommendation: str
    alert: bool


def findings(results: Iterable[FrameworkResult], thresholds: Mapping[str, float]) -> list[Finding]:
    """Every non-compliant control as a finding; ALERT as alert_thresholds decide."""
    out = []
    for result in results:
        share = result.failing_share
        for control in result.controls:
            if control.status is not Status.NON_COMPLIANT or control.severity is None:
                continue
            limit = thresholds.get(control.severity)
            out.append(
                Finding(
                    framework=result.framework.id,
                    control=control.control.id,
                    severity=control.severity,
                    recommendation=control.control.recommendation,
                    alert=limit is not None and share > limit,
                )
            )
    return out
