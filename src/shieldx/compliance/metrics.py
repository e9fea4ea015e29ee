"""The compliance engine's Prometheus series."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge, Histogram


class ComplianceMetrics:
    """Scores and counts of the latest assessment, and how long assessments take."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.score = Gauge(
            "compliance_score",
            "Score of each framework in the latest assessment (0-100).",
            ["framework"],
            registry=registry,
        )
        # Gauges, not counters: the number of controls (findings) in each state *now*.
        self.controls = Gauge(
            "compliance_controls_total",
            "Controls of the latest assessment by status.",
            ["status"],
            registry=registry,
        )
        self.findings = Gauge(
            "compliance_findings_total",
            "Findings of the latest assessment by severity.",
            ["severity"],
            registry=registry,
        )
        self.duration = Histogram(
            "compliance_assessment_seconds",
            "Time to run one assessment (every check of every enabled framework).",
            registry=registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
        )
