"""`shieldx shards status`, `credits verify` and `credits rebuild-projections` on shards."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from shieldx.credits import tables
from shieldx.credits.shards.domain import Ring
from shieldx.credits.shards.store import shard_database
from shieldx.platform import migrations
from shieldx.platform.context import build_context
from shieldx.testing.fixtures import settings_for_test

from ..conftest import serve_credits

SHARDED = {"SHIELDX_SHARDING_NUM_SHARDS": "4"}


def _shieldx(data_dir: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SHIELDX_")}
    return subprocess.run(
        [sys.executable, "-m", "shieldx", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, "SHIELDX_LOGGING_LEVEL": "warning", **env},
    )


def _json(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode in (0, 1), done.stderr
    result: dict[str, Any] = orjson.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_status_verify_and_rebuild_cover_every_shard(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    empty = _json(_shieldx(data_dir, SHARDED, "shards", "status", "--json"))
    assert empty["ring_version"] == 1 and empty["virtual_nodes"] == 256
    assert [(s["accounts"], s["events"]) for s in empty["shards"]] == [(0, 0)] * 4
    settings = settings_for_test(data_dir, sharding={"num_shards": 4}, credits={"commit_process": False})  # fmt: skip
    ctx = build_context(settings)
    migrations.upgrade(ctx.db)
    with serve_credits(ctx) as api:
        for n in range(12):
            api.post("/credits/purchase", {"account_id": f"acct-{n}", "amount": 10})
    ctx.close()

    status = _json(_shieldx(data_dir, SHARDED, "shards", "status", "--json"))
    assert status["ring_version"] == 1
    assert [s["name"] for s in status["shards"]] == [f"shard-{i}" for i in range(4)]
    assert sum(s["accounts"] for s in status["shards"]) == 12
    assert sum(s["events"] for s in status["shards"]) == 24
    assert all(s["replicas"] == [] for s in status["shards"])

    verified = _json(_shieldx(data_dir, SHARDED, "credits", "verify", "--json"))
    assert verified["ok"] and verified["verified_events"] == 24
    rebuilt = _json(_shieldx(data_dir, SHARDED, "credits", "rebuild-projections", "--json"))
    assert rebuilt["events"] == 24 and rebuilt["accounts"] == 12
    assert len(rebuilt["shards"]) == 4

    victim = Ring(tuple(f"shard-{i}" for i in range(4)), 256).shard_of("tenant-a", "acct-0")
    db = shard_database(settings, victim, None)
    with db.write() as conn:
        conn.execute(tables.event_store.update().values(reason="forged").where(tables.event_store.c.position == 2))  # fmt: skip
    db.dispose()
    broken = _shieldx(data_dir, SHARDED, "credits", "verify", "--json")
    assert broken.returncode == 1
    assert (_json(broken)["shard"], _json(broken)["first_bad_position"]) == (victim, 2)
    text = _shieldx(data_dir, SHARDED, "credits", "verify")
    assert f"BROKEN at shard {victim}, position 2" in text.stdout


def test_unsharded_status_is_the_main_database(tmp_path: Path) -> None:
    status = _json(_shieldx(tmp_path / "data", {}, "shards", "status", "--json"))
    assert status["ring_version"] == 0
    assert [(s["name"], s["accounts"], s["events"]) for s in status["shards"]] == [("main", 0, 0)]
    with build_context(settings_for_test(tmp_path / "data")).db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(tables.shard_map)).scalar() == 0
