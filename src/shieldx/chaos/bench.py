"""`shieldx bench chaos`: experiment start-up, safety check and rollback times, measured on a
real credits service (a subprocess on SQLite) driven over HTTP."""

from __future__ import annotations

import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from shieldx.chaos.faults.http import HttpFaults
from shieldx.chaos.safety.domain import SafetyPolicy
from shieldx.platform.loadgen import free_port, spawn_server


def safety_check_seconds(window: int = 50_000, rounds: int = 20) -> float:
    """Median time of one halt check over a full window of request outcomes."""
    http = HttpFaults()
    now = time.monotonic()
    for i in range(window):
        http.outcomes.append((now, 503 if i % 10 == 0 else 200, 0.001 * (i % 50)))
    policy = SafetyPolicy(
        enabled=True,
        production=False,
        production_enabled=False,
        safe_hours=frozenset(range(24)),
        max_concurrent=2,
        max_error_rate=10,
        max_p99_ms=2000,
    )
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        policy.violations(http.observe(now - 60))
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def _wait(http: httpx.Client, path: str, done: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = http.get(path).json()
        if done(answer):
            return answer
        time.sleep(0.002)
    raise TimeoutError(path)


def run(*, rounds: int = 5) -> dict[str, Any]:
    """The figures as a JSON-ready dict."""
    admin = "bench-admin-" + secrets.token_hex(12)
    port = free_port()
    env = {
        "SHIELDX_CHAOS_ENABLED": "true",
        "SHIELDX_CHAOS_SAFE_HOURS": ",".join(str(h) for h in range(24)),
        "SHIELDX_LOGGING_LEVEL": "warning",
    }
    startup, rollback, halt_to_rolled_back = [], [], []
    with (
        tempfile.TemporaryDirectory() as data,
        spawn_server(
            ["serve", "credits", "--port", str(port)],
            data_dir=Path(data),
            admin_key=admin,
            env=env,
        ),
        httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {admin}"},
            timeout=30,
        ) as http,
    ):
        short = {"type": "high_latency", "duration": "1m", "target": "/credits", "intensity": 0.01}
        for _ in range(rounds):
            began = time.perf_counter()
            run_id = http.post("/chaos/experiment", json=short).json()["id"]
            _wait(http, "/chaos/faults", lambda a: bool(a["faults"]))
            startup.append(time.perf_counter() - began)
            http.post(f"/chaos/experiments/{run_id}/abort")
            doc = _wait(http, f"/chaos/status/{run_id}", lambda a: a["status"] != "running")
            rollback.append(doc["rollback_s"])
        halt = {
            "title": "bench halt",
            "steady-state-hypothesis": {"title": "ready", "probes": []},
            "method": [
                {
                    "type": "action",
                    "name": "abort-ready",
                    "provider": {
                        "type": "python",
                        "module": "shieldx.chaos.actions",
                        "func": "inject_fault",
                        "arguments": {
                            "kind": "http_abort",
                            "path": "/ready",
                            "duration": "30s",
                        },
                    },
                }
            ],
            "extensions": [
                {"name": "shieldx", "type": "service_failure", "max_error_rate": 5,
                 "traffic_rate": 100, "duration": "30s"}
            ],
        }  # fmt: skip
        for _ in range(rounds):
            run_id = http.post("/chaos/experiment", json=halt).json()["id"]
            began = time.perf_counter()
            doc = _wait(http, f"/chaos/status/{run_id}", lambda a: a["status"] != "running")
            halt_to_rolled_back.append(time.perf_counter() - began)
            assert doc["status"] == "halted", doc
    return {
        "rounds": rounds,
        "experiment_startup_s": {"median": statistics.median(startup), "max": max(startup)},
        "safety_check_s": {"median_over_50k_requests": safety_check_seconds()},
        "rollback_s": {"median": statistics.median(rollback), "max": max(rollback)},
        "start_to_halted_and_rolled_back_s": {
            "median": statistics.median(halt_to_rolled_back),
            "max": max(halt_to_rolled_back),
        },
        "seed_targets": {"startup_s": 1.0, "safety_check_s": 0.1, "rollback_s": 5.0},
    }
