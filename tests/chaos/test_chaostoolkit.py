"""Chaos Toolkit's own `chaos run` executes a shipped experiment against a running ShieldX,
through the shieldx.chaos.actions / shieldx.chaos.probes extension."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import EXPERIMENTS, Live

SRC = Path(__file__).resolve().parents[2] / "src"


def chaos_command() -> str:
    """The `chaos` console script of this interpreter's environment (the dev extra)."""
    beside = Path(sys.executable).with_name("chaos")
    found = str(beside) if beside.exists() else shutil.which("chaos")
    if found is None:
        pytest.fail("chaostoolkit is not installed: pip install -e '.[dev]'")
    return found


def test_chaos_run_executes_high_latency_against_a_running_shieldx(
    live: Live, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "SHIELDX_URL": live.url,
        "SHIELDX_API_KEY": live.admin,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    journal_path = tmp_path / "journal.json"
    result = subprocess.run(
        [
            chaos_command(),
            "--no-version-check",
            "--no-log-file",  # a top-level option, not one of `run`'s
            "run",
            "--journal-path",
            str(journal_path),
            str(EXPERIMENTS / "high_latency.json"),
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    journal = json.loads(journal_path.read_text())
    assert (journal["status"], journal["deviated"]) == ("completed", False)
    injected = [r for r in journal["run"] if r["activity"]["name"] == "delay-credits-requests"]
    assert len(injected) == 1 and injected[0]["status"] == "succeeded"
    assert str(injected[0]["output"]).startswith("flt_")
    probes = journal["steady_states"]["before"]["probes"]
    assert [p["output"] for p in probes] == [True]
    assert [r["output"] for r in journal["rollbacks"]] == [1]  # the fault it removed
    faults = live.http.get("/chaos/faults", headers=live.headers()).json()
    assert faults["faults"] == []
