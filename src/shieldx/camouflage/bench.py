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
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from shieldx.platform.bench import machine
from shieldx.platform.loadgen import LoadGenError, find_tool, free_port, run_load, spawn_server

DECOY = "bench"
NGINX = Path("/usr/sbin/nginx")
NGINX_PAGE = Path("/var/www/html/index.nginx-debian.html")
_REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: bench\r\n\r\n"


def _read_response(sock: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise LoadGenError("the server closed the connection mid-measurement")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise LoadGenError("the server closed the connection mid-body")
        body += chunk


def sequential_latency(port: int, count: int, per_connection: int = 500) -> dict[str, float]:
    """Median and p99 time (ms) of COUNT one-at-a-time GETs on keep-alive connections.

    A new connection every PER_CONNECTION requests (nginx closes after keepalive_requests).
    """
    samples: list[float] = []
    while len(samples) < count:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for _ in range(min(per_connection, count - len(samples))):
                started = time.perf_counter()
                sock.sendall(_REQUEST)
                _read_response(sock)
                samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "p50_ms": round(samples[len(samples) // 2], 4),
        "p99_ms": round(samples[int(len(samples) * 0.99)], 4),
    }


def _real_nginx(root: Path, port: int) -> subprocess.Popen[bytes]:
    """Debian's nginx with its default site on PORT (the same-run reference)."""
    html = root / "html"
    html.mkdir()
    page = html / "index.nginx-debian.html"
    page.write_bytes(NGINX_PAGE.read_bytes())
    for d in (root, html):
        d.chmod(0o755)
    page.chmod(0o644)
    user = "user root;" if os.geteuid() == 0 else ""
    (root / "nginx.conf").write_text(
        f"{user}\nworker_processes 1;\ndaemon off;\npid {root}/nginx.pid;\n"
        f"error_log {root}/error.log;\nevents {{ worker_connections 768; }}\n"
        f"http {{ sendfile on; tcp_nopush on; include /etc/nginx/mime.types;\n"
        f"default_type application/octet-stream; access_log {root}/access.log; gzip on;\n"
        f"client_body_temp_path {root}/b; proxy_temp_path {root}/p; fastcgi_temp_path {root}/f;\n"
        f"uwsgi_temp_path {root}/u; scgi_temp_path {root}/s;\n"
        f"server {{ listen 127.0.0.1:{port}; root {html};\n"
        "index index.html index.htm index.nginx-debian.html; server_name _;\n"
        "location / { try_files $uri $uri/ =404; } } }\n"
    )
    return subprocess.Popen(
        [str(NGINX), "-p", str(root), "-c", str(root / "nginx.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def latency_against_nginx(decoy_port: int, count: int) -> dict[str, Any]:
    """The decoy's and a real nginx's sequential latency, and their ratio (tell 6)."""
    decoy = sequential_latency(decoy_port, count)
    report: dict[str, Any] = {
        "requests": count,
        "decoy_requests": count,
        "decoy": decoy,
        "nginx": None,
        "ratio_p50": None,
    }
    if not NGINX.exists() or not NGINX_PAGE.exists():
        return report
    with tempfile.TemporaryDirectory(prefix="shieldx-bench-nginx-") as tmp:
        port = free_port()
        proc = _real_nginx(Path(tmp), port)
        try:
            _wait_listening(port)
            real = sequential_latency(port, count)
            decoy = sequential_latency(decoy_port, count)  # again, right after: same conditions
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    report.update(
        decoy=decoy,
        nginx=real,
        ratio_p50=round(decoy["p50_ms"] / real["p50_ms"], 2),
        decoy_requests=2 * count,
    )
    return report


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
            latency: dict[str, Any] = (
                latency_against_nginx(decoy_port, 2000)
                if template.startswith("nginx")
                else {"decoy": sequential_latency(decoy_port, 2000), "decoy_requests": 2000}
            )
            cpu_before = cpu_seconds(pid)
            measured = run_load(
                url, connections=connections, duration=duration, threads=threads, tool=tool
            )
            cpu_used = cpu_seconds(pid) - cpu_before
            # The latency probe's requests are recorded too: count them in the total.
            total = measured.requests + int(latency["decoy_requests"])
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
        # One request at a time on a keep-alive connection, beside a real nginx started in
        # the same run: what a timing-based check compares.
        "sequential_latency": latency,
    }


def print_report(report: dict[str, Any], *, as_json: bool) -> None:
    """The report as JSON (the default is indented JSON too: benchmarks print JSON)."""
    option = 0 if as_json else orjson.OPT_INDENT_2
    print(orjson.dumps(report, option=option).decode())
