"""Shadow test support: rules as API bodies, services on a context, live servers with keys."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from shieldx.config import Settings
from shieldx.platform import migrations
from shieldx.platform.app import create_app
from shieldx.platform.context import PlatformContext, build_context
from shieldx.platform.roles import Role
from shieldx.shadow.component import build_component
from shieldx.shadow.metrics import ShadowMetrics
from shieldx.shadow.replay.files import rules_document
from shieldx.shadow.rules.sample_rules import sample_ruleset
from shieldx.shadow.service import ShadowService
from shieldx.shadow.timeutil import ManualClock
from shieldx.testing.live import LiveServer


def rule(rule_id: str, expression: str, action: str = "block", priority: int = 0) -> dict[str, Any]:
    """A rule as the API takes it."""
    return {"id": rule_id, "expression": expression, "action": action, "priority": priority}


def sample_body(name: str = "waf", count: int = 50) -> dict[str, Any]:
    """The sample rule set (or its first COUNT rules) as a POST /shadow/rulesets body."""
    ruleset = sample_ruleset()
    body = rules_document(name, ruleset.on_error, ruleset.rules)
    body["rules"] = body["rules"][:count]
    return body


@pytest.fixture
def clock() -> ManualClock:
    """A clock tests move by hand."""
    return ManualClock()


def new_service(ctx: PlatformContext, clock: ManualClock) -> ShadowService:
    """A shadow service on CTX (not started)."""
    return ShadowService(
        db=ctx.db, settings=ctx.settings, metrics=ShadowMetrics(CollectorRegistry()), clock=clock
    )


@dataclass
class Shadow:
    """A live shadow server with keys of every role (and two tenant-scoped ones)."""

    url: str
    ctx: PlatformContext
    service: ShadowService
    keys: dict[str, str] = field(default_factory=dict)
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    def headers(self, who: str = "admin") -> dict[str, str]:
        """The Authorization header of one of the keys."""
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def call(
        self,
        method: str,
        path: str,
        who: str = "admin",
        *,
        tenant: str | None = "acme",
        **kwargs: Any,
    ) -> httpx.Response:
        """An API call as WHO; unscoped keys name TENANT (scoped keys never need to)."""
        params = dict(kwargs.pop("params", {}))
        if tenant is not None and who in ("admin", "operator", "auditor", "service"):
            params.setdefault("tenant", tenant)
        headers = {**self.headers(who), **kwargs.pop("headers", {})}
        return self.client.request(
            method, self.url + path, params=params, headers=headers, **kwargs
        )

    def ok(self, method: str, path: str, who: str = "admin", **kwargs: Any) -> Any:
        """An API call that must succeed; its JSON."""
        response = self.call(method, path, who, **kwargs)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    def ruleset(self, body: dict[str, Any], who: str = "admin", **kwargs: Any) -> str:
        """Create a rule set; its "name@version"."""
        doc = self.ok("POST", "/shadow/rulesets", who, json=body, **kwargs)
        return f"{doc['name']}@{doc['version']}"


@pytest.fixture
def shadow_server(
    make_settings: Callable[..., Settings], clock: ManualClock
) -> Iterator[Callable[..., Shadow]]:
    """Start live shadow servers without background tasks (settings overrides as keywords)."""
    stack: list[tuple[LiveServer, PlatformContext]] = []

    def start(*, background: bool = False, **overrides: Any) -> Shadow:
        ctx = build_context(make_settings(**overrides))
        migrations.upgrade(ctx.db)
        app = create_app(
            ctx, "shadow", partial(build_component, clock=clock, background=background)
        )
        server = LiveServer(app)
        server.__enter__()
        stack.append((server, ctx))
        inner: Any = app
        while not hasattr(inner, "state") or not hasattr(inner.state, "component"):
            inner = inner.app
        keys = {role.value: ctx.api_keys.create(role=role)[1] for role in Role}
        keys["acme"] = ctx.api_keys.create(role=Role.OPERATOR, tenant="acme")[1]
        keys["globex"] = ctx.api_keys.create(role=Role.OPERATOR, tenant="globex")[1]
        service = inner.state.component.extra["service"]
        return Shadow(url=server.url, ctx=ctx, service=service, keys=keys)

    shadows: list[Shadow] = []

    def started(**kwargs: Any) -> Shadow:
        shadow = start(**kwargs)
        shadows.append(shadow)
        return shadow

    try:
        yield started
    finally:
        for shadow in shadows:
            shadow.client.close()
        for server, ctx in reversed(stack):
            server.__exit__(None, None, None)
            ctx.close()
