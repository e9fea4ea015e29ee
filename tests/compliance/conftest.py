"""A whole platform served over loopback on the ports its settings name (as `shieldx up`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from shieldx.config import deep_merge
from shieldx.platform import migrations
from shieldx.platform.app import create_app
from shieldx.platform.context import PlatformContext, build_context
from shieldx.platform.loadgen import free_port
from shieldx.platform.roles import Role
from shieldx.services import SERVICES
from shieldx.testing.fixtures import settings_for_test
from shieldx.testing.live import LivePlatform

QUIET: dict[str, Any] = {
    "credits": {"projection_interval": "1h", "sweep_interval": "1h"},
    "shadow": {"flush_interval": "1h", "refresh_interval": "1h"},
    "deployment": {"health_check_interval": "1h"},
    "camouflage": {"recording": {"flush_interval": "1h"}, "decoys": []},
}


@dataclass
class Running:
    """The served platform, its context and an unscoped admin client of the credits port."""

    ctx: PlatformContext
    live: LivePlatform
    admin_key: str
    client: httpx.Client

    def url(self, service: str) -> str:
        """The base URL of SERVICE."""
        return self.live.urls[service]

    def assess(self) -> dict[str, Any]:
        """Run an assessment over HTTP and return it."""
        answer = self.client.post("/compliance/assessments", timeout=60)
        assert answer.status_code == 201, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def key(self, role: Role, tenant: str | None = None) -> str:
        """A new key of ROLE."""
        return self.ctx.api_keys.create(role=role, tenant=tenant, name="test")[1]


def control(result: dict[str, Any], framework: str, control_id: str) -> dict[str, Any]:
    """One control of an assessment."""
    found: dict[str, Any] = next(
        c for c in result["frameworks"][framework]["controls"] if c["id"] == control_id
    )
    return found


def check(result: dict[str, Any], name: str) -> dict[str, Any]:
    """The evidence of the first run of check NAME in an assessment."""
    for framework in result["frameworks"].values():
        for item in framework["controls"]:
            for evidence in item["evidence"]:
                if evidence["check"] == name:
                    found: dict[str, Any] = evidence
                    return found
    raise AssertionError(f"no check {name}")


@pytest.fixture
def start_platform(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    """Start a platform with extra settings; everything started is stopped afterwards."""
    stack: list[tuple[LivePlatform, PlatformContext, httpx.Client]] = []

    def start(**overrides: Any) -> Running:
        ports = {name: free_port() for name in SERVICES}
        layers = deep_merge(QUIET, {name: {"port": port} for name, port in ports.items()})
        settings = settings_for_test(tmp_path / f"data{len(stack)}", **deep_merge(layers, overrides))
        ctx = build_context(settings)
        migrations.upgrade(ctx.db)
        apps = {name: create_app(ctx, name, info.factory()) for name, info in SERVICES.items()}
        live = LivePlatform(apps, ports=ports)
        live.__enter__()
        _, key = ctx.api_keys.create(role=Role.ADMIN, name="compliance-test-admin")
        client = httpx.Client(
            base_url=live.urls["credits"], headers={"Authorization": f"Bearer {key}"}
        )
        stack.append((live, ctx, client))
        return Running(ctx=ctx, live=live, admin_key=key, client=client)

    yield start
    for live, ctx, client in reversed(stack):
        client.close()
        live.__exit__(None, None, None)
        ctx.close()
