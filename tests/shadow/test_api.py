"""The shadow API over real HTTP: rule sets, the decision path, deployment operations, metrics."""

from __future__ import annotations

from collections.abc import Callable

from .conftest import Shadow, rule, sample_body


def test_rule_sets_are_versioned_and_a_bad_rule_is_named_with_its_position(
    shadow_server: Callable[..., Shadow],
) -> None:
    shadow = shadow_server()
    assert shadow.ruleset({"name": "waf", "rules": [rule("a", 'path == "/a"')]}) == "waf@1"
    body = {"name": "waf", "on_error": "fail_closed",
            "rules": [rule("a", 'path == "/b"'), rule("cookie", 'headers["cookie"].contains("x")', "challenge", 10)]}  # fmt: skip
    assert shadow.ruleset(body) == "waf@2"
    latest = shadow.ok("GET", "/shadow/rulesets/waf")
    assert (latest["version"], latest["on_error"], [v["version"] for v in latest["versions"]]) == (
        2,
        "fail_closed",
        [1, 2],
    )
    first = shadow.ok("GET", "/shadow/rulesets/waf@1")
    assert (
        first["rules"][0]["expression"] == 'path == "/a"'
    )  # a new version never changes an old one
    assert shadow.call("GET", "/shadow/rulesets/waf@3").status_code == 404
    assert shadow.ok("GET", "/shadow/rulesets") == [
        {"name": "waf", "latest_version": 2, "versions": 2, "updated_at": latest["created_at"]}
    ]

    broken = {"name": "bad", "rules": [
        rule("fine", 'method == "GET"'),
        rule("syntax", 'path.startsWith("/a") &&\n  query =='),
        rule("unknown-field", 'request.path == "/"'),
    ]}  # fmt: skip
    refused = shadow.call("POST", "/shadow/rulesets", json=broken)
    assert refused.status_code == 422
    problems = {
        p["rule_id"]: (p["line"], p["column"], p["message"]) for p in refused.json()["problems"]
    }
    assert set(problems) == {"syntax", "unknown-field"}
    assert problems["syntax"][:2] == (2, 11)
    assert (
        problems["unknown-field"][:2] == (1, 1)
        and "unknown identifier 'request'" in problems["unknown-field"][2]
    )
    assert shadow.call("GET", "/shadow/rulesets/bad").status_code == 404  # nothing stored

    check = shadow.ok("POST", "/shadow/rulesets/waf@2/check", json={"path": "/b", "ip": "10.0.0.1"})
    assert (check["action"], check["matched_rules"], check["by_error"]) == (
        "challenge",
        ["cookie", "a"],
        True,
    )
    assert (
        check["errors"][0]["rule_id"] == "cookie"
    )  # no cookie header: the rule fails, fail_closed applies
    lenient = shadow.ok("POST", "/shadow/rulesets/waf@1/check", json={"path": "/b"})
    assert (lenient["action"], lenient["matched_rules"]) == ("allow", [])


def test_decide_follows_the_deployment_and_reports_shadow_decisions(
    shadow_server: Callable[..., Shadow],
) -> None:
    shadow = shadow_server()
    record = {"path": "/admin/users", "ip": "203.0.113.7", "tenant": "acme"}
    nothing = shadow.call("POST", "/shadow/decide", "service", tenant=None, json=record)
    assert nothing.status_code == 404 and nothing.json()["type"].endswith("/nothing-deployed")
    open_set = shadow.ruleset({"name": "open", "rules": [rule("nothing", "false")]})
    admin = shadow.ruleset({"name": "admin", "rules": [rule("admin", 'path.startsWith("/admin")')]})
    shadow.ok("POST", "/shadow/deploy", json={"ruleset": open_set, "strategy": "immediate"})
    test = shadow.ok(
        "POST", "/shadow/evaluate", json={"name": "t", "control": open_set, "candidate": admin}
    )
    doc = shadow.ok(
        "POST", "/shadow/decide", "service", tenant=None, json=record
    )  # the record names the tenant
    assert (doc["action"], doc["ruleset"], doc["version"], doc["matched_rules"]) == (
        "allow",
        "open",
        1,
        [],
    )
    assert doc["shadow"] == [{"source": "test", "id": test["test_id"], "ruleset": "admin", "version": 1,
                              "action": "block", "rule_id": "admin", "matched_rules": ["admin"]}]  # fmt: skip
    assert shadow.call("POST", "/shadow/decide", "auditor", json=record).status_code == 403
    bad = shadow.call("POST", "/shadow/decide", "service", json={"ip": "999.1.1.1"})
    assert bad.status_code == 422 and "ip must be" in bad.json()["detail"]
    assert (
        shadow.call(
            "POST",
            "/shadow/decide",
            "service",
            content=b"{",
            headers={"Content-Type": "application/json"},
        ).status_code
        == 400
    )
    results = shadow.ok("GET", f"/shadow/results/{test['test_id']}")
    assert results["verdict_diff"]["matrix"]["allow"]["block"] == 1  # decided requests count too


def test_deployments_are_operated_by_hand(shadow_server: Callable[..., Shadow]) -> None:
    shadow = shadow_server()
    v1 = shadow.ruleset(sample_body("waf", 10))
    v2 = shadow.ruleset(sample_body("waf", 50))
    shadow.ok("POST", "/shadow/deploy", json={"ruleset": v1, "strategy": "immediate"})
    assert (
        shadow.call(
            "POST", "/shadow/deploy", json={"ruleset": v1, "strategy": "canary"}
        ).status_code
        == 409
    )
    test = shadow.ok(
        "POST",
        "/shadow/evaluate",
        json={"name": "t", "control": v1, "candidate": v2, "min_samples": 0},
    )
    early = shadow.call("POST", "/shadow/deploy", json={"test_id": test["test_id"]})
    assert early.status_code == 409 and early.json()["type"].endswith("/test-not-won")
    shadow.ok(
        "POST",
        f"/shadow/tests/{test['test_id']}/decide",
        json={"winner": "candidate", "reason": "reviewed"},
    )
    deployed = shadow.ok("POST", "/shadow/deploy", json={
        "test_id": test["test_id"], "strategy": "canary", "stages": [20, 100], "stage_duration": "1h",
        "gates": {"max_false_positive_rate": 0.01, "max_error_rate": None}})  # fmt: skip
    dep = deployed["deployment_id"]
    assert (deployed["target"], deployed["previous"], deployed["percentage"]) == (v2, v1, 20)
    assert (
        shadow.call("POST", "/shadow/deploy", json={"ruleset": v2}).status_code == 409
    )  # one at a time
    report = shadow.ok("GET", f"/shadow/deployments/{dep}")
    assert report["policy"]["gates"]["max_error_rate"] is None  # an explicit null turns a gate off
    assert report["policy"]["gates"]["min_samples_per_stage"] == 100  # the configured default
    assert report["current"]["next_move"] == "wait"
    assert shadow.ok("POST", f"/shadow/deployments/{dep}/pause")["status"] == "paused"
    assert shadow.call("POST", f"/shadow/deployments/{dep}/pause").status_code == 409
    assert shadow.ok("POST", f"/shadow/deployments/{dep}/resume")["status"] == "running"
    promoted = shadow.ok("POST", f"/shadow/deployments/{dep}/promote")
    assert (promoted["stage_index"], promoted["percentage"]) == (1, 100)
    aborted = shadow.ok("POST", f"/shadow/deployments/{dep}/abort")
    assert aborted["status"] == "aborted"
    final = shadow.ok("GET", f"/shadow/deployments/{dep}")
    assert [(s["stage_index"], s["verdict"]) for s in final["stages"]] == [
        (0, "paused"),
        (0, "promoted"),
        (1, "aborted"),
    ]
    assert final["rollbacks"][0]["trigger"] == "manual" and final["rollbacks"][0]["to"] == v1
    assert shadow.ok("POST", "/shadow/decide", "service", json={"path": "/"})["version"] == 1
    assert shadow.call("POST", f"/shadow/deployments/{dep}/resume").status_code == 409
    listed = shadow.ok("GET", "/shadow/deployments")
    assert [(d["strategy"], d["status"]) for d in listed] == [
        ("canary", "aborted"),
        ("immediate", "completed"),
    ]

    metrics = shadow.call("GET", "/metrics", tenant=None).text
    for name in ("shadow_ab_tests_total", "shadow_evaluation_duration_seconds_bucket",
                 "shadow_decisions_total", "deployment_status", "deployment_duration_seconds_bucket",
                 "deployment_rollback_total"):  # fmt: skip
        assert name in metrics, name
    assert 'deployment_status{status="aborted",strategy="canary"} 1.0' in metrics
    assert 'deployment_rollback_total{strategy="canary",trigger="manual"} 1.0' in metrics
    assert 'shadow_ab_tests_total{event="decided"} 1.0' in metrics


def test_gateway_heartbeats_and_environments_over_http(
    shadow_server: Callable[..., Shadow],
) -> None:
    shadow = shadow_server()
    v1 = shadow.ruleset({"name": "waf", "rules": [rule("a", "false")]})
    shadow.ok("POST", "/shadow/deploy", json={"ruleset": v1, "strategy": "immediate"})
    shadow.ok("POST", "/shadow/gateways", "service", json={"gateway_id": "gw-1"})
    beat = {"requests": 1200, "error_rate": 0.001, "latency_p95_ms": 12.5}
    unknown = shadow.call("POST", "/shadow/gateways/gw-9/heartbeat", "service", json=beat)
    assert unknown.status_code == 404 and "register it" in unknown.json()["detail"]
    bad = shadow.call(
        "POST", "/shadow/gateways/gw-1/heartbeat", "service", json={**beat, "error_rate": 2}
    )
    assert bad.status_code == 422
    done = shadow.ok("POST", "/shadow/gateways/gw-1/heartbeat", "service", json=beat)
    assert (done["gateway_id"], done["healthy"], done["latency_p95_ms"]) == ("gw-1", True, 12.5)
    (listed,) = shadow.ok("GET", "/shadow/gateways", "auditor")
    assert (listed["healthy"], listed["error_rate"]) == (True, 0.001)
    assert (
        shadow.call("POST", "/shadow/gateways/gw-1/heartbeat", "auditor", json=beat).status_code
        == 403
    )
    v2 = shadow.ruleset({"name": "waf", "rules": [rule("a", "true")]})
    shadow.ok("POST", "/shadow/deploy", json={"ruleset": v2, "strategy": "blue_green"})
    environments = shadow.ok("GET", "/shadow/environments", "auditor")
    assert [(e["environment"], e["ruleset"], e["percentage"]) for e in environments] == [
        ("blue", "waf@1", 100.0),
        ("green", "waf@2", 0.0),
    ]
