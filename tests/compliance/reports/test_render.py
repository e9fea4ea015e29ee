"""Report rendering is pure: the same assessment gives the same OSCAL, valid per trestle."""

from __future__ import annotations

from typing import Any

from trestle.oscal.assessment_results import AssessmentResults

from shieldx.compliance.reports.render import oscal_control_id, to_oscal, trend_svg

ASSESSMENT: dict[str, Any] = {
    "id": "r1",
    "created_at": "2026-12-03T17:00:00+00:00",
    "overall": 50.0,
    "frameworks": {
        "PCI_DSS": {
            "title": "PCI DSS",
            "version": "3.2.1",
            "score": 50.0,
            "controls": [
                {
                    "id": "3.4",
                    "title": "PAN unreadable",
                    "status": "non_compliant",
                    "score": 0.0,
                    "severity": "critical",
                    "recommendation": "Remove it.",
                    "evidence": [
                        {
                            "check": "no_clear_card_numbers",
                            "status": "non_compliant",
                            "seq": 7,
                            "sha256": "ab" * 32,
                            "summary": "1 found",
                            "data": {},
                        }
                    ],
                },
                {
                    "id": "10.2",
                    "title": "Audit trails",
                    "status": "not_applicable",
                    "score": 100.0,
                    "severity": None,
                    "recommendation": "Keep it.",
                    "evidence": [
                        {
                            "check": "audit_chain_verifies",
                            "status": "not_applicable",
                            "seq": 8,
                            "sha256": "cd" * 32,
                            "summary": "n/a",
                            "data": {},
                        }
                    ],
                },
            ],
        }
    },
}


def test_oscal_is_valid_and_deterministic() -> None:
    doc = to_oscal(ASSESSMENT)
    model = AssessmentResults.model_validate(doc["assessment-results"])
    (result,) = model.results
    assert [f.target.target_id for f in result.findings or []] == ["pci_dss-3.4"]
    assert len(result.observations or []) == 2
    assert to_oscal(ASSESSMENT) == doc
    assert oscal_control_id("GDPR", "Art.32") == "gdpr-art.32"


def test_the_trend_chart_draws_one_line_per_series() -> None:
    history = [
        {"overall": 40.0, "frameworks": {"SOC2": 30.0}},
        {"overall": 60.0, "frameworks": {"SOC2": 90.0}},
    ]
    svg = trend_svg(history)
    assert svg.count("<polyline") == 2 and svg.startswith("<svg")
