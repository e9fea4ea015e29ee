"""Signed webhook deliveries of selected events, to allow-listed URLs only.

Deliveries leave from the management side (a task of the service, never a decoy), only to the
URLs in ``camouflage.webhook.urls`` and never to a redirect target. Each POST carries a JSON
body ``{"events": [...]}``, signed as every ShieldX webhook is (shieldx.platform.webhooks):

    ShieldX-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Any

import httpx
import orjson
import structlog

from shieldx import __version__
from shieldx.platform import targets
from shieldx.platform.webhooks import SIGNATURE_HEADER, sign

log = structlog.get_logger("shieldx.camouflage")


class WebhookSender:
    """Batches events from a bounded queue and POSTs them to every configured URL."""

    def __init__(
        self,
        urls: Sequence[str],
        secret: bytes,
        *,
        timeout_s: float,
        max_queue: int,
        batch_size: int,
        retries: int,
        transport: httpx.AsyncBaseTransport | None = None,
        allow_private: bool = True,
    ) -> None:
        self.urls = tuple(urls)
        self.allow_private = allow_private
        self._secret = secret
        self.timeout_s = timeout_s
        self.batch_size = batch_size
        self.retries = retries
        self._transport = transport
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(max_queue)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self.delivered = 0
        self.failed = 0
        self.dropped = 0

    def offer(self, events: list[dict[str, Any]]) -> None:
        """Queue EVENTS for delivery; callable from any thread (the writer's)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            self.dropped += len(events)
            return
        loop.call_soon_threadsafe(self._enqueue, events)

    def _enqueue(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            try:
                self._queue.put_nowait(event)
            except asyncio.QueueFull:
                self.dropped += 1

    async def start(self) -> None:
        """Start the delivery task on the running loop."""
        self._loop = asyncio.get_running_loop()
        # No keep-alive when pinning: a pooled connection must not carry another name's request.
        limits = httpx.Limits(max_keepalive_connections=0 if not self.allow_private else 20)
        self._client = httpx.AsyncClient(
            timeout=self.timeout_s,
            follow_redirects=False,
            transport=self._transport,
            limits=limits,
        )
        self._task = asyncio.create_task(self._run(), name="camouflage-webhook")

    async def stop(self, drain_s: float = 5.0) -> None:
        """Deliver what is queued (for up to DRAIN_S), then stop."""
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), drain_s)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._client is not None:
            await self._client.aclose()
        self._loop = None

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.batch_size and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            body = orjson.dumps({"events": batch})
            for url in self.urls:
                await self._deliver(url, body, len(batch))
            for _ in batch:
                self._queue.task_done()

    async def _deliver(self, url: str, body: bytes, count: int) -> None:
        error = "not attempted"
        for attempt in range(self.retries + 1):
            try:
                error = await self._attempt(url, body)
            except targets.TargetRefused as exc:  # not a lookup failure: final
                self.failed += count
                log.warning("camouflage.webhook_refused", url=url, events=count, error=str(exc))
                return
            if not error:
                self.delivered += count
                return
            if attempt < self.retries:
                await asyncio.sleep(min(0.25 * 2**attempt, 5.0))
        self.failed += count
        log.warning("camouflage.webhook_failed", url=url, events=count, error=error)

    async def _attempt(self, url: str, body: bytes) -> str:
        """One POST to URL's checked address: '' when accepted, else why not."""
        assert self._client is not None
        try:
            target = await targets.resolve(url, allow_private=self.allow_private)
        except targets.LookupFailed as exc:
            return str(exc)
        headers = {
            "Host": targets.host_header(url),
            "Content-Type": "application/json",
            "User-Agent": f"shieldx-camouflage/{__version__}",
            SIGNATURE_HEADER: sign(self._secret, int(time.time()), body),
        }
        try:
            response = await self._client.post(
                target.url, content=body, headers=headers, extensions=target.extensions
            )
        except httpx.HTTPError as exc:
            return type(exc).__name__
        return "" if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
