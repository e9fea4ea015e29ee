"""A real `shieldx serve shadow`, killed with SIGKILL in the middle of a canary, resumes it."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from shieldx.platform.loadgen import free_port, spawn_server

from .conftest import rule

ENV = {
    "SHIELDX_LOGGING_LEVEL": "warning",
    "SHIELDX_SERVER_ACCESS_LOG": "false",
    "SHIELDX_DEPLOYMENT_HEALTH_CHECK_INTERVAL": "50ms",
    "SHIELDX_SHADOW_FLUSH_INTERVAL": "50ms",
    "SHIELDX_SECURITY_RATE_LIMIT_KEY_RATE": "100000",
    "SHIELDX_SECURITY_RATE_LIMIT_KEY_BURST": "100000",
}


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll observable state until CONDITION returns something truthy, or fail after TIMEOUT."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_killed_server_resumes_the_canary_at_the_right_stage(tmp_path: Path) -> None:
    admin = "shx_test_" + secrets.token_urlsafe(24)
    auth = {"Authorization": f"Bearer {admin}"}
    data = tmp_path / "data"

    def serve() -> Any:
        args = ["serve", "shadow", "--port", str(free_port())]
        return spawn_server(args, data_dir=data, admin_key=admin, env=ENV)

    client = httpx.Client(headers=auth, params={"tenant": "acme"}, timeout=10)

    def api(url: str, method: str, path: str, **kwargs: Any) -> Any:
        response = client.request(method, url + path, **kwargs)
        assert response.status_code < 300, response.text
        return response.json()

    def decide(url: str, start: int, count: int) -> set[str]:
        seen = set()
        for i in range(start, start + count):
            doc = api(
                url,
                "POST",
                "/shadow/decide",
                json={"ip": f"10.1.{i // 256 % 256}.{i % 256}", "path": "/"},
            )
            seen.add(f"{doc['ruleset']}@{doc['version']}")
        return seen

    with serve() as first:
        url = first.urls["shadow"]
        api(
            url,
            "POST",
            "/shadow/rulesets",
            json={"name": "waf", "rules": [rule("a", 'path == "/a"')]},
        )
        api(
            url,
            "POST",
            "/shadow/rulesets",
            json={"name": "waf", "rules": [rule("b", 'path == "/b"')]},
        )
        api(url, "POST", "/shadow/deploy", json={"ruleset": "waf@1", "strategy": "immediate"})
        deployment = api(url, "POST", "/shadow/deploy", json={
            "ruleset": "waf@2", "strategy": "canary", "stages": [10, 50, 100], "stage_duration": 0,
            "gates": {"min_samples_per_stage": 30, "max_error_rate": 0.5}})["deployment_id"]  # fmt: skip
        report = f"/shadow/deployments/{deployment}"

        def at_second_stage() -> bool:
            decide(url, secrets.randbelow(60000), 30)  # stage 2 needs 30 samples: 30 x 50 % short
            return bool(api(url, "GET", report)["stage_index"] == 1)

        wait_for(at_second_stage, "the canary to reach its second stage")
        first.process.kill()  # SIGKILL: no shutdown hooks, no final flush
        first.process.wait()

    with serve() as second:
        url = second.urls["shadow"]
        resumed = api(url, "GET", report)
        assert (resumed["status"], resumed["stage_index"], resumed["percentage"]) == (
            "running",
            1,
            50,
        )
        assert [s["verdict"] for s in resumed["stages"]] == ["pass", None]
        assert decide(url, 0, 60) == {"waf@1", "waf@2"}  # the 50 % split is enforced again

        def completed() -> bool:
            decide(url, secrets.randbelow(60000), 50)
            return bool(api(url, "GET", report)["status"] == "completed")

        wait_for(completed, "the canary to complete after the restart")
        final = api(url, "GET", report)
        assert [(s["percentage"], s["verdict"]) for s in final["stages"]] == [
            (10, "pass"),
            (50, "pass"),
            (100, "pass"),
        ]
        assert decide(url, 0, 20) == {"waf@2"}
    client.close()
