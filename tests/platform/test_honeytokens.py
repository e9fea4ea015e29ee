"""Honeytokens planted by one part of the platform are recognised wherever they are used."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import httpx

from shieldx.platform.app import create_app
from shieldx.platform.context import PlatformContext
from shieldx.platform.honeytokens import USED_TOPIC, token_hash
from shieldx.testing.live import LiveServer

PLANTED = "shx_5eed5eed5eed_" + "H" * 43
RANDOM = "shx_0123456789ab_" + "R" * 43


def _strip(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "instance"}


def test_planted_api_key_is_refused_like_any_bad_key_and_reported(
    platform_ctx: PlatformContext,
) -> None:
    token_id = platform_ctx.honeytokens.plant(
        token=PLANTED, kind="api_key", session_id="sess-1", decoy="nginx"
    )
    heard: list[Mapping[str, Any]] = []
    done = threading.Event()

    def on_use(_topic: str, payload: Mapping[str, Any]) -> None:
        heard.append(payload)
        done.set()

    platform_ctx.bus.subscribe(USED_TOPIC, on_use)
    with LiveServer(create_app(platform_ctx, "credits")) as server:
        honey = httpx.get(server.url + "/whoami", headers={"Authorization": f"Bearer {PLANTED}"})
        plain = httpx.get(server.url + "/whoami", headers={"Authorization": f"Bearer {RANDOM}"})
        assert done.wait(timeout=10)
    assert honey.status_code == plain.status_code == 401
    assert _strip(honey.json()) == _strip(plain.json())
    assert honey.headers["www-authenticate"] == plain.headers["www-authenticate"]
    assert len(heard) == 1
    assert heard[0]["token_id"] == token_id
    assert heard[0]["session_id"] == "sess-1"
    assert heard[0]["location"] == "api_key"
    assert heard[0]["source"] == "127.0.0.1"
    uses = platform_ctx.honeytokens.uses_since(0)
    assert [u.token_id for u in uses] == [token_id]


def test_planting_is_idempotent_and_stores_only_a_hash(platform_ctx: PlatformContext) -> None:
    first = platform_ctx.honeytokens.plant(token=PLANTED, kind="api_key")
    assert platform_ctx.honeytokens.plant(token=PLANTED, kind="api_key") == first
    with platform_ctx.db.read() as conn:
        rows = conn.exec_driver_sql("SELECT * FROM honeytokens").all()
    assert PLANTED not in repr(rows)
    assert token_hash(PLANTED) in repr(rows)


def test_reports_never_block_and_overflow_is_counted(platform_ctx: PlatformContext) -> None:
    import asyncio

    from shieldx.platform.honeytokens import HoneytokenRegistry

    registry = HoneytokenRegistry(platform_ctx.db, platform_ctx.bus, queue_size=5)

    async def flood() -> int:
        await registry.start()
        registry._worker.cancel()  # type: ignore[union-attr]  # nothing drains: the queue fills
        for i in range(20):
            registry.report(f"random-{i}", location="api_key", source="10.0.0.9")
        dropped = registry.dropped
        await registry.stop()
        return dropped

    assert asyncio.run(flood()) == 15
