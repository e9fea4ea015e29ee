"""deploy/prometheus: promtool checks and unit-tests the rules; every metric is one ShieldX exports."""

from __future__ import annotations

import subprocess
from typing import Any

import yaml

from shieldx.testing.fixtures import need_tool

from .conftest import DEPLOY, PROMETHEUS_SERIES, metric_names

RULES = DEPLOY / "prometheus" / "rules.yml"
RULE_TESTS = DEPLOY / "prometheus" / "rules.test.yml"
# The seed's alerts, kept by name (on metrics that exist: see docs/operations.md).
SEED_ALERTS = {"HighErrorRate", "ComplianceViolation"}
OPERATOR_ALERTS = {
    "LedgerWriterDown",
    "ReadinessFailing",
    "HoneytokenUsed",
    "Elevated5xxRatio",
    "HighLatencyP99",
}


def rules() -> list[dict[str, Any]]:
    """Every rule of every group in rules.yml."""
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    """Run promtool with ARGS in deploy/prometheus (the rule tests name rules.yml relatively)."""
    return subprocess.run(
        [need_tool("promtool", "prometheus"), *args],
        cwd=RULES.parent,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_promtool_check_rules() -> None:
    """promtool accepts the rule file (syntax, PromQL, templates)."""
    result = promtool("check", "rules", RULES.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


def test_promtool_unit_tests_pass() -> None:
    """rules.test.yml: each alert fires on its condition and stays quiet otherwise."""
    result = promtool("test", "rules", RULE_TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_is_unit_tested() -> None:
    """Each alert appears in at least one alert_rule_test with an alert expected."""
    doc = yaml.safe_load(RULE_TESTS.read_text())
    fired = {
        case["alertname"]
        for test in doc["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert fired == {rule["alert"] for rule in rules()}


def test_the_alerts_an_operator_needs_are_there() -> None:
    """The seed's names and the operator's alerts exist, each with a severity and a summary."""
    names = {rule["alert"] for rule in rules()}
    assert names >= SEED_ALERTS | OPERATOR_ALERTS
    for rule in rules():
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]


def test_metric_names_parser() -> None:
    """The PromQL name extraction the metric checks rely on drops labels, functions and groupings."""
    expr = 'sum by (job, le) (rate(foo_bucket{status=~"5..", x="a{b}"}[5m])) / bar > 0.05 and up'
    assert metric_names(expr) == {"foo_bucket", "bar", "up"}


def test_rules_name_only_metrics_shieldx_exports(exported_metrics: set[str]) -> None:
    """Every metric a rule reads is on a live platform's /metrics (or is Prometheus's `up`)."""
    used = {name for rule in rules() for name in metric_names(rule["expr"])}
    assert used, "no metric found: the parser is broken"
    missing = used - exported_metrics - PROMETHEUS_SERIES
    assert not missing, f"rules read metrics ShieldX does not export: {sorted(missing)}"
