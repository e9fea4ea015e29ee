"""Fixtures for the chaos tests: a credits service (with the chaos engine) on loopback HTTP."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from shieldx.config import Settings
from shieldx.platform import migrations
from shieldx.platform.app import create_app
from shieldx.platform.context import PlatformContext, build_context
from shieldx.platform.roles import Role
from shieldx.services import SERVICES
from shieldx.testing.live import LiveServer

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
ALL_HOURS = list(range(24))


def free_port() -> int:
    """A port nothing listens on right now (bound once by the OS, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def experiment(name: str) -> dict[str, Any]:
    """A shipped experiment from experiments/."""
    data: dict[str, Any] = json.loads((EXPERIMENTS / f"{name}.json").read_text())
    return data


@dataclass
class Live:
    """A running credits service with chaos: its URL, keys and an HTTP client."""

    url: str
    admin: str
    operator: str
    ctx: PlatformContext
    http: httpx.Client

    def headers(self, who: str = "admin") -> dict[str, str]:
        """Authorization header for ADMIN or the tenant operator."""
        return {"Authorization": f"Bearer {self.admin if who == 'admin' else self.operator}"}

    def wait_ended(self, experiment_id: str, timeout: float = 40.0) -> dict[str, Any]:
        """Poll the status until the experiment is no longer running."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            doc: dict[str, Any] = self.http.get(
                f"/chaos/status/{experiment_id}", headers=self.headers()
            ).json()
            if doc["status"] != "running":
                return doc
            time.sleep(0.05)
        raise AssertionError(f"experiment {experiment_id} still running after {timeout} s")


@contextmanager
def serve(settings: Settings, *, direct_url: str | None = None) -> Iterator[Live]:
    """Credits plus the chaos engine, as services.py combines them, on a free port.

    DIRECT_URL: the database's own address when settings reach it through a chaos proxy,
    which only opens once the component is built (migrations and keys go there first).
    """
    setup = build_context(
        settings.model_copy(
            update={"database": settings.database.model_copy(update={"url": SecretStr(direct_url)})}
        )
        if direct_url
        else settings
    )
    migrations.upgrade(setup.db)
    admin = setup.api_keys.create(role=Role.ADMIN)[1]
    operator = setup.api_keys.create(role=Role.OPERATOR, tenant="tenant-a")[1]
    if direct_url:
        setup.close()
    ctx = build_context(settings) if direct_url else setup
    app = create_app(ctx, "credits", SERVICES["credits"].factory())
    try:
        with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as http:
            yield Live(server.url, admin, operator, ctx, http)
    finally:
        ctx.close()


def chaos_settings(**chaos: Any) -> dict[str, Any]:
    """Overrides enabling chaos at every hour, plus CHAOS."""
    return {"chaos": {"enabled": True, "safe_hours": ALL_HOURS, **chaos}}


@pytest.fixture
def live(make_settings: Callable[..., Settings]) -> Iterator[Live]:
    """Credits with chaos enabled on a SQLite file, commits in a thread."""
    settings = make_settings(credits={"commit_process": False}, **chaos_settings())
    with serve(settings) as running:
        yield running
