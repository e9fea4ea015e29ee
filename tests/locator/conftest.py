"""Locator test support: a movable clock, services on a context, live servers with keys."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial

import httpx
import pytest
from prometheus_client import CollectorRegistry

from shieldx.config import Settings
from shieldx.locator.component import build_component
from shieldx.locator.metrics import LocatorMetrics
from shieldx.locator.tokens.service import LocatorService
from shieldx.platform import migrations
from shieldx.platform.app import Component, create_app
from shieldx.platform.context import PlatformContext, build_context
from shieldx.platform.roles import Role
from shieldx.testing.live import LiveServer

ISSUER = "https://locator.test"


class Clock:
    """Epoch seconds that tests move by hand."""

    def __init__(self) -> None:
        # A whole second: key retirement times are stored as datetimes (microseconds), so a
        # clock with sub-microsecond digits lands a hair before or after them at random.
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    """A clock starting at the real time."""
    return Clock()


def new_service(ctx: PlatformContext, clock: Callable[[], float] = time.time) -> LocatorService:
    """A started locator service on CTX."""
    service = LocatorService(
        db=ctx.db,
        keyring=ctx.keyring,
        settings=ctx.settings,
        metrics=LocatorMetrics(CollectorRegistry()),
        clock=clock,
    )
    service.start()
    return service


def issue(service: LocatorService, **overrides: object) -> str:
    """A token with sensible defaults."""
    args: dict[str, object] = {
        "subject": "user-1",
        "audience": "api",
        "scopes": ["read"],
        "client_id": "client-1",
        "tenant": "acme",
    }
    args.update(overrides)
    return service.issue(**args).access_token  # type: ignore[arg-type]


@dataclass
class Locator:
    """A live locator server with keys of every role."""

    url: str
    ctx: PlatformContext
    service: LocatorService
    keys: dict[str, str] = field(default_factory=dict)

    def headers(self, who: str = "admin") -> dict[str, str]:
        """The Authorization header of one of the keys."""
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def issue(self, who: str = "admin", /, **body: object) -> httpx.Response:
        """POST /issue."""
        payload: dict[str, object] = {"subject": "user-1", "audience": "api", "tenant": "acme"}
        payload.update(body)
        return httpx.post(self.url + "/issue", json=payload, headers=self.headers(who))

    def token(self, **body: object) -> str:
        """A token issued over HTTP."""
        response = self.issue(**body)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def introspect(self, token: str, who: str = "admin", **extra: str) -> dict[str, object]:
        """POST /introspect form-encoded; the JSON answer."""
        response = httpx.post(
            self.url + "/introspect", data={"token": token, **extra}, headers=self.headers(who)
        )
        assert response.status_code == 200, response.text
        doc: dict[str, object] = response.json()
        return doc

    def revoke(self, token: str, who: str = "admin") -> httpx.Response:
        """POST /revoke form-encoded."""
        return httpx.post(self.url + "/revoke", data={"token": token}, headers=self.headers(who))


@pytest.fixture
def locator_server(
    make_settings: Callable[..., Settings], clock: Clock
) -> Iterator[Callable[..., Locator]]:
    """Start live locator servers (settings overrides as keyword arguments)."""
    stack: list[tuple[LiveServer, PlatformContext]] = []

    def start(**overrides: object) -> Locator:
        locator = {"issuer": ISSUER, **dict(overrides.pop("locator", {}))}  # type: ignore[call-overload]
        ctx = build_context(make_settings(locator=locator, **overrides))
        migrations.upgrade(ctx.db)
        app = create_app(ctx, "locator", partial(build_component, clock=clock))
        server = LiveServer(app)
        server.__enter__()
        stack.append((server, ctx))
        component = app_component(app)
        keys = {
            "admin": ctx.api_keys.create(role=Role.ADMIN)[1],
            "service": ctx.api_keys.create(role=Role.SERVICE)[1],
            "operator": ctx.api_keys.create(role=Role.OPERATOR)[1],
            "auditor": ctx.api_keys.create(role=Role.AUDITOR)[1],
            "acme": ctx.api_keys.create(role=Role.SERVICE, tenant="acme")[1],
            "globex": ctx.api_keys.create(role=Role.SERVICE, tenant="globex")[1],
        }
        return Locator(url=server.url, ctx=ctx, service=component.extra["service"], keys=keys)

    try:
        yield start
    finally:
        for server, ctx in reversed(stack):
            server.__exit__(None, None, None)
            ctx.close()


def app_component(app: object) -> Component:
    """The Component behind an app built by create_app."""
    inner = app
    while not hasattr(inner, "state") or not hasattr(inner.state, "component"):
        inner = inner.app  # type: ignore[attr-defined]
    component = inner.state.component
    assert isinstance(component, Component)
    return component
