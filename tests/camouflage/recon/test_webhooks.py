"""Webhooks: HMAC-SHA256 signatures, allow-listed URLs only, no redirects followed."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shieldx.camouflage.recon.webhooks import WebhookSender
from shieldx.platform.webhooks import SIGNATURE_HEADER, verify
from shieldx.testing.live import LiveServer

SECRET = b"0123456789abcdef-webhook"


def _receiver(received: list[dict[str, Any]]) -> Starlette:
    async def hook(request: Request) -> Response:
        body = await request.body()
        received.append(
            {
                "path": request.url.path,
                "body": body,
                "signature": request.headers[SIGNATURE_HEADER],
            }
        )
        return Response(status_code=204)

    async def elsewhere(request: Request) -> Response:
        return Response(status_code=302, headers={"Location": "/stolen"})

    async def stolen(request: Request) -> Response:
        received.append({"path": "/stolen"})
        return Response(status_code=204)

    return Starlette(
        routes=[
            Route("/hook", hook, methods=["POST"]),
            Route("/redirect", elsewhere, methods=["POST"]),
            Route("/stolen", stolen, methods=["POST", "GET"]),
        ]
    )


def test_deliveries_are_signed_and_redirects_are_not_followed() -> None:
    received: list[dict[str, Any]] = []
    with LiveServer(_receiver(received)) as server:

        async def run() -> WebhookSender:
            sender = WebhookSender(
                [server.url + "/hook", server.url + "/redirect"],
                SECRET,
                timeout_s=5,
                max_queue=100,
                batch_size=10,
                retries=1,
            )
            await sender.start()
            sender.offer([{"event": "camouflage.honeytoken.used", "n": i} for i in range(3)])
            # Every batch is acknowledged once it was delivered or given up on.
            await asyncio.wait_for(sender._queue.join(), 10)
            await sender.stop()
            return sender

        sender = asyncio.run(run())
    hooks = [r for r in received if r["path"] == "/hook"]
    assert len(hooks) == 1
    hook = hooks[0]
    assert verify(SECRET, hook["signature"], hook["body"], now=int(time.time()))
    assert not verify(b"other-secret-xxxxxx", hook["signature"], hook["body"], now=int(time.time()))
    assert [e["n"] for e in orjson.loads(hook["body"])["events"]] == [0, 1, 2]
    assert not any(r["path"] == "/stolen" for r in received)
    assert sender.delivered == 3 and sender.failed == 3


def test_with_the_target_filter_on_private_receivers_get_nothing() -> None:
    received: list[dict[str, Any]] = []
    with LiveServer(_receiver(received)) as server:
        port = server.url.rsplit(":", 1)[1]
        urls = [server.url + "/hook", f"http://[::ffff:127.0.0.1]:{port}/hook"]

        async def run() -> WebhookSender:
            sender = WebhookSender(
                urls, SECRET, timeout_s=5, max_queue=100, batch_size=10, retries=2,
                allow_private=False,
            )  # fmt: skip
            await sender.start()
            sender.offer([{"event": "camouflage.honeytoken.used"}])
            await asyncio.wait_for(sender._queue.join(), 10)
            await sender.stop()
            return sender

        sender = asyncio.run(run())
    assert received == []
    assert sender.delivered == 0 and sender.failed == 2
