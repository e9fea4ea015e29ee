"""`shieldx dr lab up --json` starts a lab of its own that ShieldX can use; `down` removes it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from shieldx.platform.conninfo import libpq_conninfo
from shieldx.testing.fixtures import need_tool


def _shieldx(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shieldx", "dr", *args],
        capture_output=True, text=True, timeout=180, check=False, env=dict(os.environ),
    )  # fmt: skip


def test_lab_up_prints_where_it_runs_and_down_removes_it(tmp_path: Path) -> None:
    need_tool("patroni")
    tmp_path.chmod(0o755)
    for parent in tmp_path.parents:  # pytest's base temp is private to root by default
        if parent.stat().st_mode & 0o001 == 0 and parent != Path("/"):
            parent.chmod(parent.stat().st_mode | 0o001)
    directory = tmp_path / "lab"
    bad = _shieldx("lab", "up", "--mode", "eventual", "--dir", str(directory))
    assert bad.returncode == 2 and "--mode must be one of" in bad.stderr
    assert not directory.exists()

    started = _shieldx("lab", "up", "--mode", "async", "--dir", str(directory), "--json")
    try:
        assert started.returncode == 0, started.stderr
        doc = json.loads(started.stdout)
        assert doc["dir"] == str(directory) and doc["mode"] == "async"
        assert [r["name"] for r in doc["regions"]] == ["region-a", "region-b"]
        with psycopg.connect(libpq_conninfo(make_url(doc["database_url"]))) as conn:
            row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
            assert row == (False,)  # target_session_attrs=read-write found the primary
        again = _shieldx("lab", "up", "--dir", str(directory))
        assert again.returncode == 1 and "already holds a lab" in again.stderr
    finally:
        stopped = _shieldx("lab", "down", "--dir", str(directory))
    assert stopped.returncode == 0, stopped.stderr
    assert not directory.exists()
    assert _shieldx("lab", "down", "--dir", str(directory)).returncode == 1
