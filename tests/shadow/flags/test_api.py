"""Feature flags over HTTP: CRUD, OpenFeature resolutions, the kill switch in every process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from shieldx.shadow.flags.domain import bucket

from ..conftest import Shadow

FLAG = {
    "key": "checkout-v2",
    "variants": {"on": True, "off": False},
    "default_variant": "off",
    "targeting": [{"expression": 'has(context.plan) && context.plan == "pro"', "variant": "on"}],
    "rollout": {"variant": "on", "percentage": 30, "stickiness": "userId"},
}


def evaluate(
    shadow: Shadow, context: dict[str, object], key: str = "checkout-v2"
) -> dict[str, object]:
    doc: dict[str, object] = shadow.ok(
        "POST", f"/shadow/flags/{key}/evaluate", "service", json={"context": context}
    )
    return doc


def test_flags_resolve_with_openfeature_reasons(shadow_server: Callable[..., Shadow]) -> None:
    shadow = shadow_server()
    created = shadow.ok("POST", "/shadow/flags", json=FLAG)
    assert (created["revision"], created["enabled"]) == (1, True)
    assert shadow.call("POST", "/shadow/flags", json=FLAG).status_code == 409
    assert evaluate(shadow, {"plan": "pro"}) == {
        "key": "checkout-v2",
        "value": True,
        "variant": "on",
        "reason": "TARGETING_MATCH",
    }
    users = [f"user-{i}" for i in range(40)]
    split = {u: evaluate(shadow, {"userId": u})["reason"] for u in users}
    assert {u for u, r in split.items() if r == "SPLIT"} == {
        u for u in users if bucket("checkout-v2", u) < 30
    }
    assert set(split.values()) == {"SPLIT", "DEFAULT"}
    missing = evaluate(shadow, {})
    assert (missing["reason"], missing["error_code"], missing["value"]) == (
        "ERROR",
        "TARGETING_KEY_MISSING",
        False,
    )

    raised = shadow.ok(
        "PATCH",
        "/shadow/flags/checkout-v2",
        json={"rollout": {"variant": "on", "percentage": 60, "stickiness": "userId"}},
    )
    assert (
        raised["revision"] == 2 and raised["targeting"] == FLAG["targeting"]
    )  # PATCH keeps the rest
    after = {u: evaluate(shadow, {"userId": u})["reason"] for u in users}
    assert all(after[u] == "SPLIT" for u, r in split.items() if r == "SPLIT")  # nobody dropped

    kept = shadow.ok("PATCH", "/shadow/flags/checkout-v2", json={"targeting": None})
    assert kept["targeting"] == FLAG["targeting"]  # null keeps a value; only a rollout is removable
    killed = shadow.ok("PATCH", "/shadow/flags/checkout-v2", json={"enabled": False})
    assert not killed["enabled"]
    assert evaluate(shadow, {"plan": "pro"}) == {
        "key": "checkout-v2",
        "value": False,
        "variant": "off",
        "reason": "DISABLED",
    }

    replaced = shadow.ok(
        "PUT",
        "/shadow/flags/checkout-v2",
        json={"variants": {"on": True, "off": False}, "default_variant": "on"},
    )
    assert (replaced["revision"], replaced["targeting"], replaced["enabled"]) == (5, [], True)
    assert evaluate(shadow, {}) == {
        "key": "checkout-v2",
        "value": True,
        "variant": "on",
        "reason": "STATIC",
    }
    assert (
        shadow.call(
            "PUT", "/shadow/flags/nope", json={"variants": {"a": 1}, "default_variant": "a"}
        ).status_code
        == 404
    )
    bad = shadow.call(
        "POST",
        "/shadow/flags",
        json={
            **FLAG,
            "key": "bad",
            "targeting": [{"expression": "context.plan ==", "variant": "on"}],
        },
    )
    assert bad.status_code == 422 and "targeting[0] at 1:" in bad.json()["detail"]
    unknown_variant = shadow.call(
        "POST", "/shadow/flags", json={**FLAG, "key": "bad", "default_variant": "maybe"}
    )
    assert (
        unknown_variant.status_code == 422
        and "unknown variant 'maybe'" in unknown_variant.json()["detail"]
    )
    nowhere = shadow.call("POST", "/shadow/flags/ghost/evaluate", "service", json={"context": {}})
    assert nowhere.status_code == 404 and nowhere.json()["error_code"] == "FLAG_NOT_FOUND"
    assert [f["key"] for f in shadow.ok("GET", "/shadow/flags")] == ["checkout-v2"]
    assert shadow.call("DELETE", "/shadow/flags/checkout-v2").status_code == 204
    assert (
        shadow.call("POST", "/shadow/flags/checkout-v2/evaluate", "service", json={}).status_code
        == 404
    )


def test_the_kill_switch_reaches_another_process_at_once(
    shadow_server: Callable[..., Shadow], tmp_path: Path
) -> None:
    shared = {"database": {"url": f"sqlite:///{tmp_path / 'shared.db'}"}}
    one, two = shadow_server(**shared), shadow_server(**shared)  # two services, one database
    two.keys.update(one.keys)  # the same key table
    shadow = one
    shadow.ok(
        "POST",
        "/shadow/flags",
        json={**FLAG, "targeting": [], "rollout": None, "default_variant": "on"},
    )
    assert evaluate(two, {})["reason"] == "STATIC"
    shadow.ok("PATCH", "/shadow/flags/checkout-v2", json={"enabled": False})
    assert evaluate(two, {})["reason"] == "DISABLED"  # the very next evaluation, no waiting
    assert two.service.flags.reloads >= 2
