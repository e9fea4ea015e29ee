"""shieldx bench camouflage: a real decoy, recording on, under wrk (or hey).

The benchmark starts ``shieldx serve camouflage`` as a subprocess with one decoy on a free
port, measures its resident memory, drives the decoy for DURATION seconds at CONNECTIONS
connections, keeps driving it until at least MIN_REQUESTS requests were made in total,
measures the memory again, stops the server (which writes out every queued event) and counts
the request events in the database and the JSON-lines file.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from shieldx.platform.bench import machine
from shieldx.platform.loadgen import LoadGenError, find_tool, free_port, run_load, spawn_server

DECOY = "bench"


def rss_mb(pid: int) -> float:
    """Resident set size of a process, in MiB (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def _wait_listening(port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise LoadGenError(f"the decoy never listened on port {port}")


def _count_jsonl(path: Path) -> int:
    count = 0
    with path.open("rb") as handle:
        for line in handle:
            if b'"event":"camouflage.request"' in line and f'"decoy":"{DECOY}"'.encode() in line:
                count += 1
    return count


def _count_db(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        row = conn.execute(
            "SELECT count(*) FROM camouflage_events WHERE event = ? AND decoy = ?",
            ("camouflage.request", DECOY),
        ).fetchone()
    return int(row[0])


def camouflage_bench(
    *,
    duration: float,
    connections: int,
    threads: int,
    template: str,
    min_requests: int,
    quiet: bool,
) -> dict[str, Any]:
    """Run the benchmark and return its report."""
    tool = find_tool()
    if not quiet:
        print(f"load generator: {tool}", file=sys.stderr)
    key = "shx_bench_" + secrets.token_urlsafe(24)
    decoy_port = free_port()
    env = {
        "SHIELDX_CAMOUFLAGE_DECOYS": json.dumps(
            [{"name": DECOY, "template": template, "port": decoy_port}]
        ),
        "SHIELDX_LOGGING_LEVEL": "warning",
        "SHIELDX_SECURITY_RATE_LIMIT_KEY_RATE": "1000000",
        "SHIELDX_SECURITY_RATE_LIMIT_KEY_BURST": "10000000",
    }
    with tempfile.TemporaryDirectory(prefix="shieldx-bench-") as tmp:
        data_dir = Path(tmp)
        args = ["serve", "camouflage", "--port", str(free_port())]
        with spawn_server(args, data_dir=data_dir, admin_key=key, env=env) as server:
            _wait_listening(decoy_port)
            pid = server.process.pid
            rss_before = rss_mb(pid)
            url = f"http://127.0.0.1:{decoy_port}/"
            cpu_before = cpu_seconds(pid)
            measured = run_load(
                url, connections=connections, duration=duration, threads=threads, tool=tool
            )
            cpu_used = cpu_seconds(pid) - cpu_before
            total = measured.requests
            soak_runs = 0
            while total < min_requests and soak_runs < 20:
                remaining = (min_requests - total) / max(measured.rps, 1.0)
                extra = run_load(
                    url,
                    connections=connections,
                    duration=max(1.0, remaining + 1.0),
                    threads=threads,
                    tool=tool,
                )
                total += extra.requests
                soak_runs += 1
            rss_after = rss_mb(pid)
            server.process.terminate()
            server.process.wait(timeout=60)
        recorded = _count_db(data_dir / "shieldx.db")
        in_file = _count_jsonl(data_dir / "camouflage" / "events.jsonl")
    return {
        "benchmark": "camouflage",
        "machine": machine(),
        "template": template,
        "tool": tool,
        "connections": connections,
        "duration_s": duration,
        "rps": round(measured.rps, 1),
        "p50_ms": round(measured.p50_ms, 3),
        "p99_ms": round(measured.p99_ms, 3),
        "errors": measured.errors,
        # Server CPU per request in the measured run: steadier than rps on a shared machine.
        "server_cpu_us_per_request": round(cpu_used / max(measured.requests, 1) * 1e6, 1),
        "requests": total,
        "recorded_events": recorded,
        "jsonl_events": in_file,
        "unrecorded": max(0, total - recorded),
        "rss_mb_before": round(rss_before, 1),
        "rss_mb_after": round(rss_after, 1),
        "rss_growth_mb": round(rss_after - rss_before, 1),
    }


def print_report(report: dict[str, Any], *, as_json: bool) -> None:
    """The report as JSON (the default is indented JSON too: benchmarks print JSON)."""
    option = 0 if as_json else orjson.OPT_INDENT_2
    print(orjson.dumps(report, option=option).decode())
