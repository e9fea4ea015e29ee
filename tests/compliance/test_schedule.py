"""Scheduled assessments (compliance.monitoring_interval) on a real served platform: each run
uses a short-lived auditor key, revoked when the run ends, and is recorded like any other."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from shieldx.compliance.assessment.service import SCHEDULER_KEY_NAME
from shieldx.config import deep_merge
from shieldx.platform import migrations
from shieldx.platform.app import create_app
from shieldx.platform.auth import ApiKeyRecord
from shieldx.platform.context import PlatformContext, build_context
from shieldx.platform.loadgen import free_port
from shieldx.platform.roles import Role
from shieldx.services import SERVICES
from shieldx.testing.compliance import QUIET
from shieldx.testing.fixtures import settings_for_test
from shieldx.testing.live import LivePlatform


def _scheduler_keys(ctx: PlatformContext) -> list[ApiKeyRecord]:
    return [k for k in ctx.api_keys.list(include_revoked=True) if k.name == SCHEDULER_KEY_NAME]


def test_assessments_run_on_schedule_with_a_key_that_lives_only_for_the_run(
    tmp_path: Path,
) -> None:
    ports = {name: free_port() for name in SERVICES}
    overrides = deep_merge(
        QUIET,
        {name: {"port": port} for name, port in ports.items()},
        {"compliance": {"monitoring_interval": "1s"}},
    )
    ctx = build_context(settings_for_test(tmp_path / "data", **overrides))
    migrations.upgrade(ctx.db)
    _, key = ctx.api_keys.create(role=Role.AUDITOR, name="reader")
    apps = {name: create_app(ctx, name, info.factory()) for name, info in SERVICES.items()}
    with (
        LivePlatform(apps, ports=ports) as live,
        httpx.Client(
            base_url=live.urls["credits"], headers={"Authorization": f"Bearer {key}"}
        ) as client,
    ):
        deadline = time.monotonic() + 120
        while (latest := client.get("/compliance/assessments/latest")).status_code == 404:
            assert time.monotonic() < deadline, "no scheduled assessment within 120 s"
            time.sleep(0.2)
        assert latest.status_code == 200, latest.text
        result = latest.json()
        routes = next(
            evidence
            for control in result["frameworks"]["SOC2"]["controls"]
            for evidence in control["evidence"]
            if evidence["check"] == "routes_require_key"
        )
        # The run had a key: it could read the route tables and probe them.
        assert routes["status"] == "compliant" and routes["data"]["probed_operations"] > 50
        while len(_scheduler_keys(ctx)) < 2:  # the schedule goes on after a run
            assert time.monotonic() < deadline, "no second scheduled assessment"
            time.sleep(0.2)
    scheduler_keys = _scheduler_keys(ctx)
    assert scheduler_keys and all(k.role is Role.AUDITOR for k in scheduler_keys)
    # Stopping the platform cancels a run in flight; its key is revoked all the same.
    assert all(k.revoked_at is not None for k in scheduler_keys), scheduler_keys
    ctx.close()
