"""/dr on the credits port against the lab: status, a requested failover in six recorded
steps, failback to the preferred region, health scores, metrics; admin only, problem+json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shieldx.dr.lab.service import Lab
from shieldx.platform.loadgen import RunningServer, spawn_server

STEPS = ["detect", "fence", "promote", "route", "verify_lag", "confirm"]


def _env(lab: Lab) -> dict[str, str]:
    regions = [r.as_dict() for r in lab.regions]
    return {
        "SHIELDX_DATABASE_URL": lab.database_url,
        "SHIELDX_DISASTER_RECOVERY_ETCD": lab.etcd_url,
        "SHIELDX_DISASTER_RECOVERY_REPLICATION_MODE": "sync",
        "SHIELDX_DISASTER_RECOVERY_REGIONS": json.dumps(regions),
        "SHIELDX_DISASTER_RECOVERY_AUTO_FAILOVER": "false",
        "SHIELDX_DISASTER_RECOVERY_HEALTH_CHECK_INTERVAL": "1s",
        "SHIELDX_LOGGING_LEVEL": "warning",
    }


def _key(lab: Lab, data_dir: Path, role: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "shieldx", "keys", "create", "--role", role, "--json"],
        env={**os.environ, **_env(lab), "SHIELDX_DATA_DIR": str(data_dir)},
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    key: str = json.loads(done.stdout)["key"]
    return key


@pytest.fixture
def server(lab: Lab, tmp_path: Path) -> Iterator[tuple[RunningServer, str, str]]:
    admin = _key(lab, tmp_path, "admin")
    auditor = _key(lab, tmp_path, "auditor")
    with spawn_server(
        ["serve", "credits", "--port", "0"], data_dir=tmp_path, admin_key=admin, env=_env(lab)
    ) as running:
        yield running, admin, auditor


def test_failover_and_failback_record_six_steps(
    lab: Lab, server: tuple[RunningServer, str, str]
) -> None:
    running, admin, auditor = server
    url = running.urls["credits"]
    home, other = "region-a", "region-b"  # by priority: failback returns to region-a
    with httpx.Client(base_url=url, timeout=120) as http:
        as_admin = {"Authorization": f"Bearer {admin}"}
        as_auditor = {"Authorization": f"Bearer {auditor}"}
        if lab.leader() != home:  # an earlier test's failover left region-b leading
            http.post("/dr/failback", headers=as_admin).raise_for_status()
        http.post("/dr/check", headers=as_admin).raise_for_status()
        status = http.get("/dr/status", headers=as_auditor).json()
        assert status["primary"] == home and status["replication_mode"] == "sync"
        scores = {r["name"]: r["health_score"] for r in status["regions"]}
        assert scores[home] == 1.0 and scores[other] >= 0.85, status

        refused = http.post("/dr/failover", json={"to": other}, headers=as_auditor)
        assert refused.status_code == 403
        unknown = http.post("/dr/failover", json={"to": "nowhere"}, headers=as_admin)
        assert unknown.status_code == 422
        assert unknown.headers["content-type"].startswith("application/problem+json")
        assert "nowhere" in unknown.json()["detail"]
        same = http.post("/dr/failover", json={"to": home}, headers=as_admin)
        assert same.status_code == 409 and "already the primary" in same.json()["detail"]
        assert lab.leader() == home  # refusals changed nothing

        moved = http.post("/dr/failover", json={"to": other}, headers=as_admin)
        assert moved.status_code == 200, moved.text
        doc = moved.json()
        assert [s["name"] for s in doc["steps"]] == STEPS
        assert doc["from_region"] == home and doc["to_region"] == other
        assert lab.leader() == other

        # Writes go on through the service after the move.
        buy = http.post(
            "/credits/purchase",
            json={"account_id": "after-failover", "amount": 5, "tenant": "dr"},
            headers={**as_admin, "Idempotency-Key": "after-failover-1"},
        )
        assert buy.status_code in (200, 201), buy.text

        back = http.post("/dr/failback", headers=as_admin)
        assert back.status_code == 200, back.text
        assert back.json()["to_region"] == home == lab.leader()

        history = http.get("/dr/status", headers=as_admin).json()["history"]
        assert [h["kind"] for h in history[:2]] == ["failback", "failover"], history
        assert all(h["status"] == "completed" for h in history[:2])
        cli = subprocess.run(
            [sys.executable, "-m", "shieldx", "dr", "status", "--json", "--url", url],
            env={**os.environ, "SHIELDX_API_KEY": auditor},
            capture_output=True, text=True, check=True, timeout=120,
        )  # fmt: skip
        assert json.loads(cli.stdout)["primary"] == home
        metrics = http.get("/metrics", headers=as_admin).text
        assert 'failover_events_total{kind="failover",status="completed"} 1.0' in metrics
        assert "region_health_score" in metrics and "replication_lag_bytes" in metrics
