"""deploy/grafana: provisioned dashboards are valid, their PromQL parses and names real metrics."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from shieldx.testing.fixtures import need_tool

from .conftest import DEPLOY, PROMETHEUS_SERIES, metric_names

GRAFANA = DEPLOY / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
# The seed's dashboards that exist (Multi-Cloud DR Status waits for DR metrics).
REQUIRED_TITLES = {
    "ShieldX Credits Operations",
    "ShieldX Chaos Engineering Results",
    "ShieldX Compliance Scorecard",
    "ShieldX A/B Testing Analytics",
    "ShieldX Deployment Pipeline Status",
}
# Grafana's interval variables, replaced by a duration for promtool.
GRAFANA_RANGES = ("$__rate_interval", "$__interval", "$__range")


def load(path: Path) -> dict[str, Any]:
    """One dashboard's JSON."""
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def exprs(dashboard: dict[str, Any]) -> list[str]:
    """Every PromQL expression of DASHBOARD's panels."""
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_the_seed_dashboards_are_there() -> None:
    """Each required dashboard exists once, with a unique uid."""
    dashboards = [load(p) for p in DASHBOARDS]
    assert {d["title"] for d in dashboards} >= REQUIRED_TITLES
    uids = [d["uid"] for d in dashboards]
    assert len(uids) == len(set(uids))


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_essentials(path: Path) -> None:
    """Title, uid, schemaVersion, time range; panels with ids, positions and Prometheus targets."""
    dashboard = load(path)
    assert dashboard["title"] and dashboard["uid"] and len(dashboard["uid"]) <= 40
    assert isinstance(dashboard["schemaVersion"], int)
    assert dashboard["time"]["from"] and dashboard["time"]["to"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert ids and len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["title"] and panel["type"] in {"timeseries", "stat", "gauge", "table"}
        assert {"x", "y", "w", "h"} <= panel["gridPos"].keys()
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}
        assert panel["targets"], panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs))


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_promql_parses_and_names_exported_metrics(
    path: Path, exported_metrics: set[str], tmp_path: Path
) -> None:
    """promtool parses every expression (as recording rules); each metric is on /metrics."""
    expressions = exprs(load(path))
    for expr in expressions:
        missing = metric_names(expr) - exported_metrics - PROMETHEUS_SERIES
        assert not missing, f"{path.name}: {expr} reads {sorted(missing)}"
    concrete = list(expressions)
    for variable in GRAFANA_RANGES:
        concrete = [e.replace(variable, "5m") for e in concrete]
    assert not any("$" in e for e in concrete), "an unknown Grafana variable"
    rules = [{"record": f"dashboard:expr{i}", "expr": e} for i, e in enumerate(concrete)]
    rule_file = tmp_path / "exprs.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": path.stem, "rules": rules}]}))
    result = subprocess.run(
        [need_tool("promtool", "prometheus"), "check", "rules", str(rule_file)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_provisioning_points_at_the_dashboards_and_prometheus() -> None:
    """The provider loads the directory compose mounts; the datasource uid is the panels' one."""
    provider = yaml.safe_load((GRAFANA / "provisioning/dashboards/shieldx.yml").read_text())
    (entry,) = provider["providers"]
    assert entry["type"] == "file"
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    mounts = dict(v.split(":")[:2] for v in compose["services"]["grafana"]["volumes"])
    assert mounts["./grafana/dashboards"] == entry["options"]["path"]
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    sources = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    (source,) = sources["datasources"]
    assert source["uid"] == "prometheus" and source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
