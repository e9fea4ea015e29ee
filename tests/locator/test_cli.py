"""`shieldx locator keys …` and `shieldx bench locator`, run as real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from shieldx.locator.bench import in_process


def shieldx(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SHIELDX_")}
    env = {**clean, "SHIELDX_DATA_DIR": str(data_dir), "SHIELDX_LOGGING_LEVEL": "warning"}
    return subprocess.run(
        [sys.executable, "-m", "shieldx", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def _keys(data_dir: Path) -> list[dict[str, str]]:
    listed = shieldx("locator", "keys", "list", "--json", data_dir=data_dir)
    assert listed.returncode == 0, listed.stderr
    return [json.loads(line) for line in listed.stdout.splitlines()]


def test_rotate_list_retire(tmp_path: Path) -> None:
    empty = shieldx("locator", "keys", "list", data_dir=tmp_path)
    assert "no signing keys yet" in empty.stdout
    first = shieldx("locator", "keys", "rotate", "--json", data_dir=tmp_path)
    assert first.returncode == 0, first.stderr
    second = shieldx("locator", "keys", "rotate", "--json", data_dir=tmp_path)
    old, new = json.loads(first.stdout)["kid"], json.loads(second.stdout)["kid"]
    keys = _keys(tmp_path)
    assert [(k["kid"], k["status"]) for k in keys] == [(old, "verifying"), (new, "active")]
    assert keys[0]["retire_at"] is not None
    assert "private" not in first.stdout + second.stdout + json.dumps(keys)

    # A thumbprint can start with '-': "--" ends the options, as for any command line.
    active = shieldx("locator", "keys", "retire", "--", new, data_dir=tmp_path)
    assert active.returncode == 1
    assert "rotate first" in active.stderr
    retired = shieldx("locator", "keys", "retire", "--", old, data_dir=tmp_path)
    assert retired.returncode == 0, retired.stderr
    assert [k["status"] for k in _keys(tmp_path)] == ["retired", "active"]
    unknown = shieldx("locator", "keys", "retire", "nope", data_dir=tmp_path)
    assert unknown.returncode == 1
    assert "no signing key" in unknown.stderr


def test_bench_reports_every_rate_from_one_run() -> None:
    report = in_process(0.1)
    for name in (
        "issue_per_s",
        "introspect_per_s",
        "introspect_uncached_per_s",
        "raw_sign_per_s",
        "raw_verify_per_s",
    ):
        assert report[name] > 0, name
    # The ratio comes from the unrounded rates: the printed, rounded ones give it to ±0.001.
    ratio = report["issue_per_s"] / report["raw_sign_per_s"]
    assert abs(report["issue_vs_raw_sign"] - ratio) <= 0.0015
