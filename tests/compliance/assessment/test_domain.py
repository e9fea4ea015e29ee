"""Scores and findings: the rules in shieldx.compliance.assessment.domain's docstring."""

from __future__ import annotations

from shieldx.compliance.assessment.domain import (
    findings,
    judge_framework,
    link_hash,
    overall_score,
)
from shieldx.compliance.checks.domain import Outcome, Status
from shieldx.compliance.frameworks.domain import CheckRef, Control, Framework

OK = Outcome(Status.COMPLIANT, "ok")
BAD = Outcome(Status.NON_COMPLIANT, "bad")
NA = Outcome(Status.NOT_APPLICABLE, "n/a")


def _framework(*controls: tuple[str, tuple[tuple[str, str], ...]]) -> Framework:
    return Framework(
        "F",
        "F",
        "1",
        tuple(
            Control(cid, cid, f"fix {cid}", tuple(CheckRef(c, s) for c, s in checks))
            for cid, checks in controls
        ),
    )


def test_scores_statuses_and_severities() -> None:
    fw = _framework(
        ("A", (("ok", "low"), ("bad", "medium"), ("bad2", "critical"))),
        ("B", (("ok", "high"), ("na", "high"))),
        ("C", (("na", "high"),)),
    )
    result = judge_framework(fw, {"ok": OK, "bad": BAD, "bad2": BAD, "na": NA})
    a, b, c = result.controls
    assert (a.status, a.score, a.severity) == (Status.NON_COMPLIANT, 33.33, "critical")
    assert (b.status, b.score, b.severity) == (Status.COMPLIANT, 100.0, None)
    assert (c.status, c.score) == (Status.NOT_APPLICABLE, 100.0)
    assert result.score == 50.0  # one of the two applicable controls passes
    assert (
        overall_score([result, judge_framework(_framework(("D", (("ok", "low"),))), {"ok": OK})])
        == 75.0
    )


def test_findings_alert_by_the_share_of_failing_controls() -> None:
    fw = _framework(
        ("A", (("bad", "medium"),)),
        ("B", (("ok", "high"),)),
        ("C", (("ok", "high"),)),
        ("D", (("ok", "high"),)),
    )
    result = judge_framework(fw, {"ok": OK, "bad": BAD})  # 25% failing
    thresholds = {"critical": 0.0, "high": 0.1, "medium": 0.3}
    (finding,) = findings([result], thresholds)
    assert (finding.control, finding.severity, finding.recommendation) == ("A", "medium", "fix A")
    assert finding.alert is False  # 25% is not above the medium threshold of 30%
    assert findings([result], {**thresholds, "medium": 0.2})[0].alert is True


def test_each_field_of_an_evidence_link_changes_its_hash() -> None:
    base = ("0" * 64, "a" * 64, "check", "compliant", 1, "r1")
    reference = link_hash(*base)
    for index in range(len(base)):
        changed = list(base)
        changed[index] = "x" if isinstance(base[index], str) else 2
        assert link_hash(*changed) != reference  # type: ignore[arg-type]
