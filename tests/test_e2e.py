"""`shieldx up` as a real subprocess on free ports, spoken to over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from shieldx.platform.loadgen import free_port, read_banner

ADMIN_KEY = "e2e-bootstrap-admin-key-0123456789"


def _env(data_dir: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SHIELDX_")}
    return {**clean, "SHIELDX_DATA_DIR": str(data_dir), "SHIELDX_BOOTSTRAP_ADMIN_KEY": ADMIN_KEY}


def test_up_serves_all_four_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("credits", "shadow", "camouflage", "locator")}
    args = [f"--{name}-port={port}" for name, port in ports.items()]
    proc = subprocess.Popen(
        [sys.executable, "-m", "shieldx", "up", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(tmp_path / "data"),
    )
    try:
        banner = read_banner(proc, timeout=60)
        assert "Admin API key: the value of SHIELDX_BOOTSTRAP_ADMIN_KEY" in banner
        assert ADMIN_KEY not in "\n".join(banner)
        for name, port in ports.items():
            base = f"http://127.0.0.1:{port}"
            assert f"  {name:<12} {base}" in banner
            health = httpx.get(base + "/health")
            assert health.json() == {"status": "ok", "service": name}
            assert httpx.get(base + "/ready").status_code == 200
            refused = httpx.get(base + "/whoami")
            assert refused.status_code == 401
            assert refused.headers["content-type"] == "application/problem+json"
            ok = httpx.get(base + "/whoami", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
            assert ok.status_code == 200 and ok.json()["role"] == "admin"
        invalid = httpx.post(
            f"http://127.0.0.1:{ports['credits']}/admin/keys",
            json={"role": "superuser"},
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        )
        assert invalid.status_code == 422
        assert invalid.headers["content-type"] == "application/problem+json"
        assert invalid.json()["errors"][0]["location"] == "body.role"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stderr is not None
    stderr = proc.stderr.read()
    proc.stderr.close()
    assert ADMIN_KEY not in stderr
    assert "server.draining" in stderr and "Traceback" not in stderr


def test_first_start_prints_a_generated_key_once(tmp_path: Path) -> None:
    env = _env(tmp_path / "data")
    del env["SHIELDX_BOOTSTRAP_ADMIN_KEY"]
    lines = []
    for _ in range(2):
        proc = subprocess.Popen(
            [sys.executable, "-m", "shieldx", "serve", "locator", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        try:
            lines.append(read_banner(proc, timeout=60))
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    first, second = lines
    assert "Admin API key (shown once; store it now):" in first
    key = first[first.index("Admin API key (shown once; store it now):") + 1].strip()
    assert key.startswith("shx_")
    assert not any("Admin API key" in line for line in second)


def test_bad_config_file_exits_2_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "shieldx.yaml"
    config.write_text("event_sourcing:\n  snapshot_interval: -5\n")
    result = subprocess.run(
        [sys.executable, "-m", "shieldx", "up", "--config", str(config)],
        capture_output=True,
        text=True,
        env=_env(tmp_path / "data"),
        timeout=60,
    )
    assert result.returncode == 2
    assert "event_sourcing.snapshot_interval" in result.stderr
    assert "(got -5)" in result.stderr
