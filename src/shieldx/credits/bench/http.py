"""`shieldx bench credits --http`: POST /credits/consume under wrk against `shieldx serve credits`.

A Lua script gives every request its own account and Idempotency-Key, so each request is a
new, committed consumption (hey cannot vary them: with hey every request after the first
is an idempotent replay, which the report then says).
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import Any

from shieldx.platform.loadgen import LoadGenError, find_tool, free_port, run_load, spawn_server

LUA = """
local counter = 0
local prefix = "k"
function setup(thread)
  thread:set("tid", tostring(math.random(1, 1000000000)))
end
function init(args)
  prefix = "k" .. tid .. "-"
  math.randomseed(tonumber(tid))
end
function request()
  counter = counter + 1
  local account = math.random(0, ACCOUNTS - 1)
  local body = '{"tenant":"bench","account_id":"acct-' .. account .. '","amount":1,"reason":"bench"}'
  local headers = {}
  headers["Content-Type"] = "application/json"
  headers["Authorization"] = "Bearer KEY"
  headers["Idempotency-Key"] = prefix .. counter
  return wrk.format("POST", "/credits/consume", headers, body)
end
"""


def http_consume(
    *,
    data_dir: Path,
    url: str | None,
    accounts: int,
    connections: int,
    duration: float,
    quiet: bool,
) -> dict[str, Any]:
    """Start the server on the seeded database and drive POST /credits/consume."""
    try:
        tool = find_tool()
    except LoadGenError as exc:
        raise SystemExit(f"error: {exc}") from None
    key = "shx_bench_" + secrets.token_urlsafe(24)
    env = {
        "SHIELDX_SECURITY_RATE_LIMIT_KEY_RATE": "1000000",
        "SHIELDX_SECURITY_RATE_LIMIT_KEY_BURST": "10000000",
        "SHIELDX_SECURITY_RATE_LIMIT_TENANT_RATE": "1000000",
        "SHIELDX_SECURITY_RATE_LIMIT_TENANT_BURST": "10000000",
        "SHIELDX_SERVER_ACCESS_LOG": "false",
        "SHIELDX_LOGGING_LEVEL": "warning",
    }
    if url is not None:
        env["SHIELDX_DATABASE_URL"] = url
    script = LUA.replace("ACCOUNTS", str(accounts)).replace("KEY", key)
    body = b'{"tenant":"bench","account_id":"acct-0","amount":1,"reason":"bench"}'
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": secrets.token_hex(8)}
    args = ["serve", "credits", "--port", str(free_port())]
    with spawn_server(args, data_dir=data_dir, admin_key=key, env=env) as server:
        target = server.urls["credits"] + "/credits/consume"
        if not quiet:
            print(f"load generator: {tool}, {connections} connections", file=sys.stderr)
        result = None
        for seconds in (min(5.0, duration), duration):  # a warm-up run, then the measured one
            result = run_load(
                target,
                connections=connections,
                duration=seconds,
                threads=1,
                method="POST",
                body=body,
                headers={**headers, "Content-Type": "application/json"},
                lua_script=script if tool == "wrk" else None,
                tool=tool,
            )
        assert result is not None
    return {
        "http": result.as_dict(),
        "ops": result.requests,
        "ops_per_s": round(result.rps, 1),
        "p50_ms": round(result.p50_ms, 2),
        "p99_ms": round(result.p99_ms, 2),
        "distinct_requests": tool == "wrk",
        "access_log": False,
    }
