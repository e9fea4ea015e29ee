"""Scheduled experiments (chaos.schedule, chaos.experiment_interval) on a served credits port:
they run in turn under the same safety rules, and a bad schedule file stops start-up."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from shieldx.config import ConfigError, Settings
from shieldx.platform import migrations
from shieldx.platform.app import create_app
from shieldx.platform.context import build_context
from shieldx.platform.roles import Role
from shieldx.services import SERVICES
from shieldx.testing.live import LivePlatform

from ..conftest import EXPERIMENTS, chaos_settings, free_port


def _runs(http: httpx.Client) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = http.get("/chaos/experiments").json()
    return rows


def test_the_schedule_starts_its_experiments_in_turn(
    make_settings: Callable[..., Settings],
) -> None:
    port = free_port()
    schedule = [
        str(EXPERIMENTS / "high_latency.json"),
        str(EXPERIMENTS / "resource_exhaustion.json"),
    ]
    settings = make_settings(
        credits={"port": port, "commit_process": False},
        **chaos_settings(schedule=schedule, experiment_interval="200ms", max_concurrent=1),
    )
    ctx = build_context(settings)
    migrations.upgrade(ctx.db)
    _, key = ctx.api_keys.create(role=Role.AUDITOR)
    app = create_app(ctx, "credits", SERVICES["credits"].factory())
    with (
        LivePlatform({"credits": app}, ports={"credits": port}) as live,
        httpx.Client(
            base_url=live.urls["credits"], headers={"Authorization": f"Bearer {key}"}, timeout=30
        ) as http,
    ):
        deadline = time.monotonic() + 90
        while True:
            runs = _runs(http)
            ended = [r for r in runs if r["status"] != "running"]
            if len({str(r["type"]) for r in ended}) == 2:
                break
            assert time.monotonic() < deadline, runs
            time.sleep(0.1)
    ctx.close()
    # max_concurrent 1: a tick while an experiment runs waits; runs never overlap, and the
    # list runs in its order.
    by_start = sorted(runs, key=lambda r: str(r["started_at"]))
    assert [r["type"] for r in by_start[:2]] == ["high_latency", "resource_exhaustion"]
    assert [r["status"] for r in by_start[:2]] == ["completed", "completed"], by_start


def test_a_bad_schedule_file_stops_start_up_naming_it(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"title": "no method"}))
    missing = tmp_path / "missing.json"
    settings = make_settings(**chaos_settings(schedule=[str(broken), str(missing)]))
    ctx = build_context(settings)
    with pytest.raises(ConfigError) as raised:
        SERVICES["credits"].factory()(ctx, __import__("prometheus_client").CollectorRegistry())
    ctx.close()
    problems = raised.value.problems
    assert len(problems) == 2
    assert str(broken) in problems[0] and str(missing) in problems[1]
