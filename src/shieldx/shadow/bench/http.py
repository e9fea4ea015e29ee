"""`shieldx bench shadow --http`: /shadow/decide under wrk, with varied records from the corpus.

The server is a real `shieldx serve shadow` subprocess on a fresh SQLite data directory
(default settings: access log on; rate limits lifted; --no-access-log turns the log off). The 50 sample rules are created and deployed
immediately for the tenant "bench"; wrk then posts corpus records round-robin (a Lua
script holds a few hundred different bodies) to /shadow/decide over 100 connections.
"""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path
from typing import Any, Final

import httpx
import orjson

from shieldx.platform.loadgen import LoadGenError, find_tool, free_port, run_load, spawn_server
from shieldx.shadow.replay.files import rules_document
from shieldx.shadow.rules.corpus import generate_corpus
from shieldx.shadow.rules.sample_rules import sample_ruleset

TENANT: Final = "bench"
_ENV: Final = {
    # The bench measures the decision path, not the limiter: lift the default budget.
    "SHIELDX_SECURITY_RATE_LIMIT_KEY_RATE": "1000000",
    "SHIELDX_SECURITY_RATE_LIMIT_KEY_BURST": "10000000",
}


def wrk_script(bodies: list[bytes], key: str) -> str:
    """A wrk Lua script posting BODIES round-robin with the API key."""
    literals = []
    for body in bodies:
        text = body.decode()
        if "]==]" in text:
            raise ValueError("a body contains the Lua long-bracket terminator")
        literals.append(f"[==[{text}]==]")
    return (
        "local bodies = {\n" + ",\n".join(literals) + "\n}\n"
        "local i = 0\n"
        'wrk.method = "POST"\n'
        f'wrk.headers["Authorization"] = "Bearer {key}"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        "request = function()\n"
        "  i = i % #bodies + 1\n"
        "  return wrk.format(nil, nil, nil, bodies[i])\n"
        "end\n"
    )


def _prepare(base: str, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    ruleset = sample_ruleset()
    body = rules_document("sample-waf", ruleset.on_error, ruleset.rules)
    created = httpx.post(f"{base}/shadow/rulesets?tenant={TENANT}", json=body, headers=headers)
    created.raise_for_status()
    deploy = {"ruleset": f"sample-waf@{created.json()['version']}", "strategy": "immediate"}
    httpx.post(
        f"{base}/shadow/deploy?tenant={TENANT}", json=deploy, headers=headers
    ).raise_for_status()


def http_benchmark(
    *,
    duration: float = 10.0,
    connections: int = 100,
    threads: int = 1,
    bodies: int = 400,
    access_log: bool = True,
) -> dict[str, Any]:
    """Measure /shadow/decide; {rules, decisions_per_s, p99_us, ...} from the load generator."""
    tool = find_tool()
    if tool != "wrk":
        raise LoadGenError(
            "the decide benchmark posts varied bodies with a wrk Lua script: install wrk"
        )
    key = "shx_bench_" + secrets.token_urlsafe(24)
    records = [orjson.dumps(dict(item.record)) for item in generate_corpus(bodies, seed=7)]
    with tempfile.TemporaryDirectory(prefix="shieldx-bench-") as tmp:
        args = ["serve", "shadow", "--port", str(free_port())]
        env = {**_ENV, "SHIELDX_SERVER_ACCESS_LOG": "true" if access_log else "false"}
        with spawn_server(args, data_dir=Path(tmp), admin_key=key, env=env) as server:
            base = server.urls["shadow"]
            _prepare(base, key)
            check = httpx.post(
                f"{base}/shadow/decide?tenant={TENANT}",
                content=records[0],
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            )
            check.raise_for_status()
            result = run_load(
                f"{base}/shadow/decide?tenant={TENANT}",
                connections=connections,
                duration=duration,
                threads=threads,
                lua_script=wrk_script(records, key),
                tool=tool,
            )
    return {
        "rules": len(sample_ruleset().rules),
        "decisions_per_s": round(result.rps, 1),
        "p99_us": round(result.p99_ms * 1000, 1),
        "p50_us": round(result.p50_ms * 1000, 1),
        "requests": result.requests,
        "errors": result.errors,
        "connections": connections,
        "duration_s": duration,
        "tool": result.tool,
        "threads": threads,
        "access_log": access_log,
        "distinct_bodies": len(records),
    }
