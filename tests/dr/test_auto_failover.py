"""auto_failover: a primary Patroni still thinks healthy but that cannot commit (made
read-only here) fails failover_threshold health checks; ShieldX asks Patroni to move."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from shieldx.dr.lab.service import Lab, wait_for
from shieldx.platform.loadgen import spawn_server

from .test_failover_api import _env, _key


def _set_read_only(lab: Lab, name: str, on: bool) -> None:
    port = lab.region(name).pg_port
    with psycopg.connect(
        host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        if on:
            conn.execute("ALTER SYSTEM SET default_transaction_read_only = on")
        else:
            conn.execute("ALTER SYSTEM RESET default_transaction_read_only")
        conn.execute("SELECT pg_reload_conf()")


@pytest.fixture
def stuck(lab: Lab) -> Iterator[str]:
    leader = lab.leader()
    assert leader is not None
    yield leader
    for region in lab.regions:
        _set_read_only(lab, region.name, False)


def test_a_primary_that_cannot_commit_is_failed_over(lab: Lab, stuck: str, tmp_path: Path) -> None:
    admin = _key(lab, tmp_path, "admin")
    env = {
        **_env(lab),
        "SHIELDX_DISASTER_RECOVERY_AUTO_FAILOVER": "true",
        "SHIELDX_DISASTER_RECOVERY_FAILOVER_THRESHOLD": "2",
    }
    with (
        spawn_server(
            ["serve", "credits", "--port", "0"], data_dir=tmp_path, admin_key=admin, env=env
        ) as running,
        httpx.Client(base_url=running.urls["credits"], timeout=60) as http,
    ):
        headers = {"Authorization": f"Bearer {admin}"}
        wait_for(
            "a first health check",
            lambda: http.get("/dr/status", headers=headers).json()["regions"][0]["health_score"],
            timeout=30,
        )
        _set_read_only(lab, stuck, True)
        other = wait_for(
            "the automatic failover",
            lambda: (lab.leader() or stuck) != stuck and lab.leader(),
            timeout=120,
        )
        assert other != stuck

        def recorded() -> list[dict[str, object]]:
            answer = http.get("/dr/status", headers=headers)
            if answer.status_code != 200:  # the database is changing hands: ask again
                return []
            history = answer.json()["history"]
            return [h for h in history if h["status"] == "completed"]

        done = wait_for("the failover record", recorded, timeout=60)[0]
        assert done["from_region"] == stuck and done["to_region"] == other
        assert "consecutive failed health checks" in str(done["reason"])
        assert [s["name"] for s in json.loads(json.dumps(done["steps"]))] == [
            "detect", "fence", "promote", "route", "verify_lag", "confirm"
        ]  # fmt: skip
