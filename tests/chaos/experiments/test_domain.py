"""Parsing experiments: Chaos Toolkit documents, the seed's short form, clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shieldx.chaos.experiments.domain import (
    FAULT_TYPES,
    ExperimentError,
    parse_experiment,
    short_form,
)

EXPERIMENTS = Path(__file__).resolve().parents[3] / "experiments"


def _load(name: str) -> Any:
    import json

    return json.loads((EXPERIMENTS / f"{name}.json").read_text())


def test_one_shipped_experiment_per_fault_type_and_each_parses() -> None:
    names = {p.stem for p in EXPERIMENTS.glob("*.json")}
    assert names == {*FAULT_TYPES, "halt_on_threshold"}
    for name in names:
        exp = parse_experiment(_load(name), max_ttl_s=600, configuration={"shieldx_url": "x"})
        assert exp.hypothesis and exp.rollbacks
        if name != "halt_on_threshold":
            assert exp.fault_type == name


def test_halt_on_threshold_is_built_to_breach() -> None:
    exp = parse_experiment(_load("halt_on_threshold"), max_ttl_s=600)
    fault = exp.method[0].fault
    assert fault is not None and fault.kind == "http_abort" and fault.path == exp.traffic_path
    assert exp.traffic_rate > 0 and exp.max_error_rate is not None and exp.max_error_rate < 100


def test_short_form_becomes_an_experiment() -> None:
    exp = parse_experiment(
        {"type": "packet_loss", "duration": "1m", "target": "database", "intensity": 0.3},
        max_ttl_s=600,
    )
    assert exp.fault_type == "packet_loss" and exp.duration_s == 60
    fault = exp.method[0].fault
    assert fault is not None
    assert (fault.kind, fault.target, fault.number("percent")) == ("loss", "database", 30.0)


def test_short_form_latency_on_a_path_is_an_http_delay() -> None:
    doc = short_form({"type": "high_latency", "duration": "5s", "target": "/credits"})
    exp = parse_experiment(doc, max_ttl_s=600)
    fault = exp.method[0].fault
    assert fault is not None and (fault.kind, fault.path) == ("http_delay", "/credits")
    assert fault.number("delay_ms") == 500


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"type": "meteor"}, "type must be one of"),
        ({"type": "high_latency", "intensity": 7}, "intensity must be a number from 0 to 1"),
        ({"type": "high_latency", "duration": "soon"}, "duration must be a positive duration"),
        ({"type": "high_latency", "colour": 1}, "unknown fields ['colour']"),
        ({"title": "t", "method": []}, "method must be a non-empty list"),
        ([], "must be a JSON object"),
    ],
)
def test_bad_documents_say_what_is_wrong(doc: Any, expected: str) -> None:
    with pytest.raises(ExperimentError) as err:
        parse_experiment(doc, max_ttl_s=600)
    assert expected in str(err.value)


def test_every_problem_is_listed_with_where_it_is() -> None:
    doc = _load("db_slow_query")
    doc["title"] = ""
    doc["method"][0]["provider"]["arguments"]["options"]["latency_ms"] = -1
    doc["steady-state-hypothesis"]["probes"][0]["tolerance"] = {"type": "jsonpath"}
    with pytest.raises(ExperimentError) as err:
        parse_experiment(doc, max_ttl_s=600)
    text = " | ".join(err.value.problems)
    assert "title must be a non-empty string" in text
    assert "method[0].provider.arguments.latency_ms must be a number from 0 to 60000" in text
    assert "steady-state-hypothesis.probes[0].tolerance must be" in text


def test_foreign_python_providers_are_refused_with_the_way_out() -> None:
    doc = _load("high_latency")
    doc["method"][0]["provider"]["module"] = "chaosk8s.pod.actions"
    with pytest.raises(ExperimentError, match="chaostoolkit's `chaos run`"):
        parse_experiment(doc, max_ttl_s=600)


def test_a_fault_may_not_outlive_the_ttl_cap() -> None:
    doc = _load("high_latency")
    doc["method"][0]["provider"]["arguments"]["duration"] = "2h"
    with pytest.raises(ExperimentError, match=r"chaos.max_fault_ttl"):
        parse_experiment(doc, max_ttl_s=600)


def test_tolerances() -> None:
    doc = _load("high_latency")
    probes = doc["steady-state-hypothesis"]["probes"]
    probes.append({**probes[0], "name": "range", "tolerance": {"type": "range", "range": [0, 5]}})
    probes.append({**probes[0], "name": "list", "tolerance": [200, 204]})
    exp = parse_experiment(doc, max_ttl_s=600)
    ready, in_range, listed = (p.tolerance for p in exp.hypothesis)
    assert ready is not None and ready.accepts(True) and not ready.accepts(1)
    assert in_range is not None and in_range.accepts(3) and not in_range.accepts(6)
    assert listed is not None and listed.accepts(204) and not listed.accepts(500)
