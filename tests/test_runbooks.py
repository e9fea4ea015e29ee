"""Every command in docs/runbooks/*.md exists: `shieldx` command paths answer `--help`, and
every curl names a method and path that a route of the service on that port serves.

So a renamed command or route fails here rather than in an incident.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.routing import compile_path
from typer.testing import CliRunner

from shieldx.cli import app as cli_app
from shieldx.platform import migrations
from shieldx.platform.app import create_app, route_table
from shieldx.platform.context import build_context
from shieldx.platform.middleware import HEALTH_PATHS
from shieldx.services import SERVICES
from shieldx.testing.fixtures import settings_for_test
from shieldx.testing.live import LiveServer

ROOT = Path(__file__).resolve().parents[1]
RUNBOOKS = sorted((ROOT / "docs" / "runbooks").glob("*.md"))
PORTS = {"5004": "credits", "5005": "shadow", "8089": "camouflage", "8080": "locator"}
FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
COMMAND_WORD = re.compile(r"^[a-z][a-z-]*$")
URL = re.compile(r"https?://(?:localhost|127\.0\.0\.1):(\d+)(/[^\s\"'?]*)")
METHOD = re.compile(r"(?:-X\s*|--request\s+)([A-Z]+)")
SETTINGS = {
    "camouflage": {
        "camouflage": {"decoys": [{"name": "web", "template": "nginx-1.22.1-debian", "port": 0}]}
    }
}


def code_lines() -> Iterator[tuple[str, str]]:
    """(where, logical line) of every line inside a fenced block of a runbook."""
    for doc in RUNBOOKS:
        inside = False
        pending = ""
        for number, line in enumerate(doc.read_text(encoding="utf-8").split("\n"), 1):
            if FENCE.match(line):
                inside = not inside
                continue
            if not inside:
                continue
            text = pending + line.split("  #")[0].strip()
            if text.endswith("\\"):
                pending = text[:-1] + " "
                continue
            pending = ""
            if text:
                yield f"{doc.relative_to(ROOT)}:{number}", text


def shieldx_commands() -> list[tuple[str, list[str]]]:
    """(where, command path) of every `shieldx` command in the runbooks."""
    found = []
    for where, text in code_lines():
        words = shlex.split(text, comments=True)
        if not words or words[0] != "shieldx":
            continue
        path = []
        for word in words[1:]:
            if not COMMAND_WORD.match(word):
                break
            path.append(word)
        found.append((where, path))
    return found


def curls() -> list[tuple[str, str, str, str]]:
    """(where, service, method, path) of every curl in the runbooks."""
    found = []
    for where, text in code_lines():
        if not text.startswith("curl "):
            continue
        url = URL.search(text)
        assert url, f"{where}: a curl without a http://localhost:PORT/... URL: {text}"
        port, path = url.groups()
        assert port in PORTS, f"{where}: port {port} is no service's default port"
        method = METHOD.search(text)
        found.append((where, PORTS[port], method.group(1) if method else "GET", path))
    return found


def test_the_runbooks_exist_and_hold_commands() -> None:
    names = {doc.stem for doc in RUNBOOKS}
    assert {
        "credits-outage",
        "deployment-rollback",
        "compliance-remediation",
        "honeytoken-alert",
        "audit-chain-broken",
        "dr-failover",
    } <= names
    assert len(shieldx_commands()) >= 10
    assert len(curls()) >= 10


@pytest.mark.parametrize(("where", "path"), shieldx_commands(), ids=lambda v: str(v))
def test_every_shieldx_command_exists(where: str, path: list[str]) -> None:
    assert path, f"{where}: `shieldx` without a command"
    result = CliRunner().invoke(cli_app, [*path, "--help"])
    assert result.exit_code == 0, f"{where}: shieldx {' '.join(path)}: {result.output}"
    assert "Usage" in result.output


def service_routes(service: str, tmp: Path) -> list[tuple[frozenset[str], str]]:
    """(methods, path template) of every route SERVICE's app serves."""
    ctx = build_context(settings_for_test(tmp / "data", **SETTINGS.get(service, {})))
    try:
        migrations.upgrade(ctx.db)
        app: Any = create_app(ctx, service, SERVICES[service].factory())
        with LiveServer(app):  # started and stopped: the component's files are closed again
            while not isinstance(app, FastAPI):
                app = app.app
            return [(route.methods, route.path) for route in route_table(app)]
    finally:
        ctx.close()


def test_every_curl_route_exists(tmp_path: Path) -> None:
    found = curls()
    routes = {
        service: service_routes(service, tmp_path / service)
        for service in sorted({service for _, service, _, _ in found})
    }
    wrong = []
    for where, service, method, path in found:
        concrete = re.sub(r"\$\{?\w+\}?", "x", path)
        if method == "GET" and concrete in HEALTH_PATHS:
            continue  # the probes are answered by middleware, before the router
        if not any(
            method in methods and compile_path(template)[0].match(concrete)
            for methods, template in routes[service]
        ):
            wrong.append(f"{where}: {method} {path} is no route of {service}")
    assert not wrong, "\n".join(wrong)
