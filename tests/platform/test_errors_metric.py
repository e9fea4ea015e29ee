"""errors_total{service,type}: every error answer of every service, by its problem type."""

from __future__ import annotations

import httpx

from shieldx.platform.app import create_app
from shieldx.platform.context import PlatformContext
from shieldx.platform.roles import Role
from shieldx.services import SERVICES
from shieldx.testing.live import LiveServer


def _errors(metrics: str) -> dict[tuple[str, str], float]:
    found: dict[tuple[str, str], float] = {}
    for line in metrics.splitlines():
        if line.startswith("errors_total{"):
            labels, value = line[len("errors_total{") :].split("} ")
            pairs = dict(part.split("=", 1) for part in labels.split(","))
            found[(pairs["service"].strip('"'), pairs["type"].strip('"'))] = float(value)
    return found


def test_errors_are_counted_by_service_and_problem_type(platform_ctx: PlatformContext) -> None:
    admin = platform_ctx.api_keys.create(role=Role.ADMIN)[1]
    auth = {"Authorization": f"Bearer {admin}"}
    app = create_app(platform_ctx, "credits", SERVICES["credits"].factory())
    with LiveServer(app) as server:
        assert httpx.get(server.url + "/whoami").status_code == 401
        assert httpx.get(server.url + "/whoami", headers={"Authorization": "x"}).status_code == 401
        assert httpx.get(server.url + "/nowhere", headers=auth).status_code == 404
        bad = httpx.post(
            server.url + "/credits/purchase",
            json={"account_id": "a", "amount": -1},
            headers={**auth, "Idempotency-Key": "k"},
        )
        assert bad.status_code == 422
        assert httpx.get(server.url + "/whoami", headers=auth).status_code == 200
        counted = _errors(httpx.get(server.url + "/metrics").text)
    assert counted == {
        ("credits", "unauthenticated"): 2,
        ("credits", "not-found"): 1,
        ("credits", "validation-error"): 1,
    }


def test_every_service_exports_errors_total(platform_ctx: PlatformContext) -> None:
    for name in SERVICES:
        with LiveServer(create_app(platform_ctx, name)) as server:
            assert httpx.get(server.url + "/whoami").status_code == 401
            counted = _errors(httpx.get(server.url + "/metrics").text)
        assert counted == {(name, "unauthenticated"): 1}, name
