"""The multi-listener runner: graceful drain on SIGTERM, clear errors on taken ports."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from shieldx.platform.server import ServeError, bind_socket

SLOW_APP = r"""
import asyncio, sys
from shieldx.config import load_settings
from shieldx.platform import migrations
from shieldx.platform.app import Component, create_app
from shieldx.platform.context import build_context
from shieldx.platform.server import Listener, run, serve
from fastapi import APIRouter

router = APIRouter()

@router.get("/slow")
async def slow() -> dict[str, str]:
    print("slow-started", flush=True)
    await asyncio.sleep(1.5)  # the work being drained, not synchronisation
    return {"done": "yes"}

settings = load_settings(None, environ={}, overrides={"data_dir": sys.argv[1]})
from shieldx.platform.logging import configure_logging
configure_logging(settings.logging)
ctx = build_context(settings)
migrations.upgrade(ctx.db)
_, key = ctx.api_keys.create(role=__import__("shieldx.platform.roles").platform.roles.Role.ADMIN)
app = create_app(ctx, "credits", lambda c, r: Component(routers=[router]))

def ready(bound):
    print(f"key {key}", flush=True)
    print(f"url {bound[0].url}", flush=True)

run(serve([Listener("credits", app, "127.0.0.1", 0)], shutdown_timeout=10, keepalive_timeout=5, on_ready=ready))
print("exited-cleanly", flush=True)
"""


def test_sigterm_drains_in_flight_requests_and_exits_zero(tmp_path: Path) -> None:
    script = tmp_path / "slow_app.py"
    script.write_text(SLOW_APP)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "data")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        _drain_scenario(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


def _drain_scenario(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    key = proc.stdout.readline().split()[1]
    url = proc.stdout.readline().split()[1]
    result: dict[str, httpx.Response] = {}

    def call() -> None:
        result["slow"] = httpx.get(
            url + "/slow", headers={"Authorization": f"Bearer {key}"}, timeout=30
        )

    caller = threading.Thread(target=call)
    caller.start()
    assert proc.stdout.readline().strip() == "slow-started"
    proc.send_signal(signal.SIGTERM)
    caller.join(timeout=30)
    assert proc.wait(timeout=30) == 0
    assert result["slow"].status_code == 200
    assert result["slow"].json() == {"done": "yes"}
    assert "exited-cleanly" in proc.stdout.read()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/health", timeout=5)


def test_taken_port_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(
            ServeError, match=f"credits: binding 127.0.0.1:{port} is already in use"
        ):
            bind_socket("credits", "127.0.0.1", port)
