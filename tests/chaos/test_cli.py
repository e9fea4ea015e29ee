"""`shieldx chaos …` as a real subprocess against a running ShieldX."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .conftest import EXPERIMENTS, Live

SRC = Path(__file__).resolve().parents[2] / "src"


def shieldx(live: Live, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SHIELDX_API_KEY": live.admin, "PYTHONPATH": str(SRC)}
    return subprocess.run(
        [sys.executable, "-m", "shieldx", "chaos", *args, "--url", live.url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_run_prints_the_status_document_and_fails_when_halted(live: Live) -> None:
    result = shieldx(live, "run", str(EXPERIMENTS / "halt_on_threshold.json"), "--json")
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    assert {"id", "status", "rolled_back", "rollback_s", "recovery_s", "error_rate", "p99_ms",
            "violations"} <= set(doc)  # fmt: skip
    assert doc["status"] == "halted" and doc["rolled_back"] is True
    shown = shieldx(live, "status", doc["id"], "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["status"] == "halted"


def test_errors_say_what_to_do(live: Live, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "meteor"}')
    result = shieldx(live, "run", str(bad))
    assert result.returncode == 1 and "body.type: Input should be" in result.stderr
