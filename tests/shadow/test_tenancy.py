"""Tenant isolation: a tenant-scoped key never sees or changes another tenant's objects."""

from __future__ import annotations

from collections.abc import Callable

from .conftest import Shadow, rule


def test_a_scoped_key_never_sees_or_changes_another_tenants_objects(
    shadow_server: Callable[..., Shadow],
) -> None:
    shadow = shadow_server()
    a1 = shadow.ruleset({"name": "waf", "rules": [rule("a", 'path == "/a"')]}, "acme")
    a2 = shadow.ruleset({"name": "waf", "rules": [rule("b", 'path == "/b"')]}, "acme")
    assert (a1, a2) == ("waf@1", "waf@2")
    test = shadow.ok(
        "POST", "/shadow/evaluate", "acme", json={"name": "t", "control": a1, "candidate": a2}
    )
    deployment = shadow.ok(
        "POST", "/shadow/deploy", "acme", json={"ruleset": a1, "strategy": "immediate"}
    )
    shadow.ok(
        "POST",
        "/shadow/flags",
        "acme",
        json={"key": "beta", "variants": {"on": True, "off": False}, "default_variant": "on"},
    )
    shadow.ok("POST", "/shadow/gateways", "acme", json={"gateway_id": "gw-1"})

    # The other tenant sees nothing of it...
    assert shadow.ok("GET", "/shadow/rulesets", "globex") == []
    assert shadow.call("GET", "/shadow/rulesets/waf", "globex").status_code == 404
    assert shadow.ok("GET", "/shadow/tests", "globex") == []
    for path in (f"/shadow/tests/{test['test_id']}", f"/shadow/results/{test['test_id']}",
                 f"/shadow/deployments/{deployment['deployment_id']}", "/shadow/flags/beta"):  # fmt: skip
        assert shadow.call("GET", path, "globex").status_code == 404, path
    assert shadow.ok("GET", "/shadow/deployments", "globex") == []
    assert shadow.ok("GET", "/shadow/gateways", "globex") == []
    assert shadow.call("POST", "/shadow/flags/beta/evaluate", "globex", json={}).status_code == 404
    assert shadow.call("POST", "/shadow/decide", "globex", json={"path": "/a"}).status_code == 404

    # ...and changes nothing of it.
    assert shadow.call("POST", f"/shadow/tests/{test['test_id']}/stop", "globex").status_code == 404
    assert (
        shadow.call(
            "POST", f"/shadow/deployments/{deployment['deployment_id']}/abort", "globex"
        ).status_code
        == 404
    )
    assert (
        shadow.call("PATCH", "/shadow/flags/beta", "globex", json={"enabled": False}).status_code
        == 404
    )
    assert shadow.call("DELETE", "/shadow/flags/beta", "globex").status_code == 404
    assert shadow.call("DELETE", "/shadow/gateways/gw-1", "globex").status_code == 404
    # Its own rule set of the same name starts its own versions.
    assert (
        shadow.ruleset({"name": "waf", "rules": [rule("c", 'path == "/c"')]}, "globex") == "waf@1"
    )

    # A scoped key cannot name another tenant, even in a record; an unscoped key must name one.
    assert (
        shadow.call("GET", "/shadow/rulesets", "globex", params={"tenant": "acme"}).status_code
        == 403
    )
    assert (
        shadow.call(
            "POST", "/shadow/decide", "globex", json={"path": "/a", "tenant": "acme"}
        ).status_code
        == 403
    )
    assert shadow.call("GET", "/shadow/rulesets", "admin", tenant=None).status_code == 422
    # Roles: an auditor reads but cannot write.
    assert shadow.call("GET", "/shadow/rulesets", "auditor").status_code == 200
    assert (
        shadow.call(
            "POST", "/shadow/rulesets", "auditor", json={"name": "x", "rules": [rule("x", "true")]}
        ).status_code
        == 403
    )

    # Everything of acme's is intact.
    assert shadow.ok("GET", f"/shadow/tests/{test['test_id']}", "acme")["status"] == "running"
    assert shadow.ok("POST", "/shadow/flags/beta/evaluate", "acme", json={})["value"] is True
    assert shadow.ok("POST", "/shadow/decide", "acme", json={"path": "/a"})["action"] == "block"
