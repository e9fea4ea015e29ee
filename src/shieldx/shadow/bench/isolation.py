"""`shieldx bench shadow --isolation`: credits /health while shadow evaluates its worst rule set.

A real `shieldx up` subprocess (all four services, one process, one event loop) on a fresh
SQLite data directory. The tenant "bench" gets the costliest rule set the default budget
accepts (rules that loop over every header inside a loop, as many as
shadow.max_ruleset_cost allows) deployed immediately. Then wrk measures credits /health
twice: with shadow idle, and while a second wrk saturates /shadow/decide with a record
that makes every rule run to its bound (64 headers of 4096 characters, no match). The
ratio of the two /health p99s is the figure that travels between machines.
"""

from __future__ import annotations

import secrets
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx
import orjson

from shieldx.platform.loadgen import LoadResult, find_tool, free_port, run_load, spawn_server
from shieldx.shadow.rules.domain import Action, Rule, RuleSet
from shieldx.shadow.rules.records import RecordLimits
from shieldx.shadow.settings import ShadowSettings

TENANT: Final = "bench"
_ENV: Final = {
    "SHIELDX_SECURITY_RATE_LIMIT_KEY_RATE": "1000000",
    "SHIELDX_SECURITY_RATE_LIMIT_KEY_BURST": "10000000",
    "SHIELDX_SERVER_ACCESS_LOG": "false",
}
_SERVICES: Final = ("credits", "shadow", "camouflage", "locator")


def worst_rule(index: int) -> Rule:
    """A rule whose bound is large and reached: a loop over headers inside a loop over them."""
    expression = f'headers.exists(a, [1,2,3].exists(b, headers[a].contains("zz{index}")))'
    return Rule(f"worst-{index}", expression, Action.BLOCK)


def worst_rules(budget: int) -> list[Rule]:
    """As many worst_rule()s as fit in BUDGET (shadow.max_ruleset_cost)."""
    one = RuleSet.compile("probe", 1, [worst_rule(0)]).cost
    return [worst_rule(i) for i in range(max(1, budget // one))]


def worst_record() -> dict[str, Any]:
    """A record on which every worst_rule runs to its bound: the most and longest headers."""
    limits = RecordLimits()
    width = limits.header_value
    headers = {f"x-h{i}": "y" * width for i in range(limits.header_count)}
    return {"method": "GET", "path": "/", "ip": "10.0.0.1", "headers": headers}


@dataclass
class UpServer:
    """A running `shieldx up` with the worst rule set deployed for TENANT."""

    urls: dict[str, str]
    key: str
    rules: int

    @property
    def headers(self) -> dict[str, str]:
        """The admin key's Authorization header."""
        return {"Authorization": f"Bearer {self.key}"}


@contextmanager
def worst_case_up(
    *, env: dict[str, str] | None = None, budget: int | None = None
) -> Iterator[UpServer]:
    """`shieldx up` on free ports with the worst rule set within BUDGET deployed."""
    key = "shx_bench_" + secrets.token_urlsafe(24)
    budget = budget or ShadowSettings().max_ruleset_cost
    args = ["up", *(f"--{name}-port={free_port()}" for name in _SERVICES)]
    with tempfile.TemporaryDirectory(prefix="shieldx-bench-") as tmp:
        full_env = {**_ENV, "SHIELDX_SHADOW_MAX_RULESET_COST": str(budget), **(env or {})}
        with spawn_server(args, data_dir=Path(tmp), admin_key=key, env=full_env) as server:
            up = UpServer(server.urls, key, 0)
            rules = worst_rules(budget)
            body = {
                "name": "worst",
                "rules": [
                    {"id": r.id, "expression": r.expression, "action": r.action.value}
                    for r in rules
                ],
            }
            base = up.urls["shadow"]
            with httpx.Client(headers=up.headers, timeout=120) as client:
                created = client.post(f"{base}/shadow/rulesets?tenant={TENANT}", json=body)
                created.raise_for_status()
                deploy = {"ruleset": f"worst@{created.json()['version']}", "strategy": "immediate"}
                client.post(f"{base}/shadow/deploy?tenant={TENANT}", json=deploy).raise_for_status()
            up.rules = len(rules)
            yield up


def isolation_benchmark(
    *, duration: float = 5.0, connections: int = 16, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Credits /health p99 with shadow idle and with /shadow/decide saturated; their ratio."""
    tool = find_tool()
    with worst_case_up(env=env) as up:
        health = up.urls["credits"] + "/health"
        decide_url = f"{up.urls['shadow']}/shadow/decide?tenant={TENANT}"
        record = orjson.dumps(worst_record())
        with httpx.Client(headers=up.headers, timeout=120) as client:
            client.post(decide_url, content=record).raise_for_status()  # workers compile it
        idle = run_load(health, connections=4, duration=duration, threads=1, tool=tool)
        loaded: dict[str, LoadResult] = {}

        def saturate() -> None:
            loaded["decide"] = run_load(
                decide_url,
                connections=connections,
                duration=duration + 2,
                threads=1,
                method="POST",
                body=record,
                headers={**up.headers, "Content-Type": "application/json"},
                tool=tool,
            )

        thread = threading.Thread(target=saturate, name="decide-load")
        thread.start()
        try:
            busy = run_load(health, connections=4, duration=duration, threads=1, tool=tool)
        finally:
            thread.join()
    decide = loaded["decide"]
    return {
        "rules": up.rules,
        "ruleset_cost": ShadowSettings().max_ruleset_cost,
        "health_p99_ms_idle": round(idle.p99_ms, 3),
        "health_p99_ms_shadow_saturated": round(busy.p99_ms, 3),
        "health_p99_ratio": round(busy.p99_ms / max(idle.p99_ms, 1e-3), 2),
        "health_rps_idle": round(idle.rps, 1),
        "health_rps_shadow_saturated": round(busy.rps, 1),
        "decide_rps": round(decide.rps, 1),
        "decide_p99_ms": round(decide.p99_ms, 3),
        "decide_non_2xx": decide.errors,
        "duration_s": duration,
        "decide_connections": connections,
        "tool": decide.tool,
    }
