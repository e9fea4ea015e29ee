"""shieldx bench http: /health and an authenticated no-op route under a real load generator."""

from __future__ import annotations

import os
import platform
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

from shieldx.platform.loadgen import LoadGenError, find_tool, free_port, run_load, spawn_server


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def http_bench(
    *, duration: float, connections: int, threads: int, service: str, quiet: bool
) -> None:
    """Start SERVICE in a subprocess, load /health and /whoami, print the JSON report."""
    try:
        tool = find_tool()
    except LoadGenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    if not quiet:
        print(f"load generator: {tool}", file=sys.stderr)
    key = "shx_bench_" + secrets.token_urlsafe(24)
    env = {
        # The bench measures the HTTP layer, not the limiter: lift the default budget.
        "SHIELDX_SECURITY_RATE_LIMIT_KEY_RATE": "1000000",
        "SHIELDX_SECURITY_RATE_LIMIT_KEY_BURST": "10000000",
    }
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="shieldx-bench-") as tmp:
        args = ["serve", service, "--port", str(free_port())]
        with spawn_server(args, data_dir=Path(tmp), admin_key=key, env=env) as server:
            base = server.urls[service]
            targets: tuple[tuple[str, dict[str, str]], ...] = (
                ("/health", {}),
                ("/whoami", {"Authorization": f"Bearer {key}"}),
            )
            for path, headers in targets:
                result = run_load(
                    base + path,
                    connections=connections,
                    duration=duration,
                    threads=threads,
                    headers=headers,
                    tool=tool,
                )
                results.append({**result.as_dict(), "target": path})
    report = {"benchmark": "http", "service": service, "machine": machine(), "results": results}
    print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
