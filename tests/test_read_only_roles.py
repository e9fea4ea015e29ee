"""A read-only role writes nowhere: every mutating route of every service refuses an auditor.

The routes are read from each service's own route table, so a route added later is covered
without editing this test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import ASGIApp

from shieldx.platform import migrations
from shieldx.platform.app import create_app, route_table
from shieldx.platform.context import PlatformContext, build_context
from shieldx.platform.roles import SAFE_METHODS, Role
from shieldx.services import SERVICES
from shieldx.testing.fixtures import settings_for_test
from shieldx.testing.live import LiveServer

# POST routes that only read (a query with a body); each is a deliberate, reviewed exception.
READS = {
    "credits": {("POST", "/credits/audit/verify")},
    "camouflage": {("POST", "/v1/camouflage/template/{name}")},
    "locator": {("POST", "/introspect")},
    "shadow": set(),
}
SETTINGS = {
    "camouflage": {
        "camouflage": {"decoys": [{"name": "web", "template": "nginx-1.22.1-debian", "port": 0}]}
    }
}


def mutating_routes(app: ASGIApp) -> Iterator[tuple[str, str, bool]]:
    """(method, path template, marked as a read) of every unsafe method of APP's routes."""
    inner: Any = app
    while not isinstance(inner, FastAPI):
        inner = inner.app
    for route in route_table(inner):
        for method in sorted(route.methods - SAFE_METHODS):
            yield method, route.path, route.reads


@pytest.fixture
def served(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[str, LiveServer, PlatformContext]]:
    service: str = request.param
    ctx = build_context(
        settings_for_test(
            tmp_path / "data",
            security={"rate_limit": {"enabled": False}},
            **SETTINGS.get(service, {}),
        )
    )
    migrations.upgrade(ctx.db)
    try:
        app = create_app(ctx, service, SERVICES[service].factory())
        with LiveServer(app) as server:
            yield service, server, ctx
    finally:
        ctx.close()


@pytest.mark.parametrize("served", sorted(SERVICES), indirect=True)
def test_auditor_gets_403_on_every_mutating_route(
    served: tuple[str, LiveServer, PlatformContext],
) -> None:
    service, server, ctx = served
    routes = sorted(set(mutating_routes(server.app)))
    assert any(method == "POST" for method, _, _ in routes)
    assert {(m, p) for m, p, marked in routes if marked} == READS[service]
    keys = [
        ctx.api_keys.create(role=Role.AUDITOR)[1],
        ctx.api_keys.create(role=Role.AUDITOR, tenant="acme")[1],
    ]
    wrong = []
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for method, template, marked in routes:
            if marked:
                continue
            path = re.sub(r"\{[^}]+\}", "x", template)
            for key in keys:
                response = client.request(
                    method,
                    path + "?tenant=acme",
                    json={},
                    headers={"Authorization": f"Bearer {key}"},
                )
                if response.status_code != 403 or "auditor" not in response.text:
                    wrong.append(f"{method} {path}: {response.status_code} {response.text[:120]}")
    assert not wrong, "\n".join(wrong)
