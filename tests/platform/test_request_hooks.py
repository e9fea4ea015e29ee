"""Component request hooks: consulted around authenticated requests, merged by combine()."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from fastapi import APIRouter
from prometheus_client import CollectorRegistry
from starlette.types import Scope

from shieldx.config import Settings
from shieldx.platform import migrations
from shieldx.platform.app import Component, combine, create_app
from shieldx.platform.context import PlatformContext, build_context
from shieldx.platform.errors import Problem
from shieldx.platform.roles import Role
from shieldx.testing.live import LiveServer


class Refuser:
    """Answers 503 for /refused; records every request it sees."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []

    async def before(self, scope: Scope) -> Problem | None:
        if scope["path"] == "/refused":
            return Problem(503, "refused by a hook", type="hook")
        return None

    def after(self, scope: Scope, status: int, seconds: float) -> None:
        assert seconds >= 0
        self.seen.append((scope["path"], status))


def test_a_hook_can_answer_instead_of_the_route_and_sees_every_outcome(
    make_settings: Callable[..., Settings],
) -> None:
    ctx = build_context(make_settings())
    migrations.upgrade(ctx.db)
    key = ctx.api_keys.create(role=Role.ADMIN)[1]
    hook = Refuser()
    ran: list[str] = []

    def factory(_ctx: PlatformContext, _registry: CollectorRegistry) -> Component:
        router = APIRouter()

        @router.get("/refused")
        async def refused() -> dict[str, bool]:
            ran.append("refused")
            return {"ok": True}

        @router.get("/fine")
        async def fine() -> dict[str, bool]:
            return {"ok": True}

        return combine(Component(routers=[router]), Component(request_hooks=[hook]))

    try:
        with LiveServer(create_app(ctx, "test", factory)) as server:
            auth = {"Authorization": f"Bearer {key}"}
            refused = httpx.get(f"{server.url}/refused", headers=auth)
            fine = httpx.get(f"{server.url}/fine", headers=auth)
            anonymous = httpx.get(f"{server.url}/refused")
    finally:
        ctx.close()
    assert refused.status_code == 503 and refused.json()["detail"] == "refused by a hook"
    assert fine.status_code == 200 and ran == []
    # Unauthenticated requests are refused by the platform before any hook runs.
    assert anonymous.status_code == 401
    assert hook.seen == [("/refused", 503), ("/fine", 200), ("/refused", 401)]
