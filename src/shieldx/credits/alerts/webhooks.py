"""Low-balance alerts to webhooks: HMAC-SHA256 signatures, retries with exponential backoff.

The alert row is written in the same transaction as the crossing event (an outbox), so an
alert is never lost and is delivered at least once. Signed as every ShieldX webhook is
(shieldx.platform.webhooks: `ShieldX-Signature: t=…,v1=…`), with the secret returned by
POST /credits/threshold.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from typing import Any

import anyio.to_thread
import httpx
import orjson
import structlog

from shieldx import __version__
from shieldx.credits.ledger.ids import iso, now_us
from shieldx.credits.ledger.service import CreditsService
from shieldx.credits.metrics import CreditsMetrics
from shieldx.platform import targets
from shieldx.platform.errors import Problem
from shieldx.platform.webhooks import SIGNATURE_HEADER, sign

log = structlog.get_logger("shieldx.credits")
_BATCH = 50

_DUE = (
    "SELECT a.alert_id, a.tenant, a.account_id, a.threshold, a.available, a.position, a.at_us,"
    " a.webhook_url, a.attempts, a.next_attempt_at_us, t.webhook_secret"
    " FROM credit_alerts a LEFT JOIN credit_thresholds t"
    " ON t.tenant = a.tenant AND t.account_id = a.account_id"
    " WHERE a.delivery = 'pending' AND a.next_attempt_at_us <= ? ORDER BY a.next_attempt_at_us"
    " LIMIT 50"
)
_CLAIM = (
    "UPDATE credit_alerts SET next_attempt_at_us = ? WHERE alert_id = ? AND delivery = 'pending'"
    " AND next_attempt_at_us = ?"
)
_RESULT = (
    "UPDATE credit_alerts SET delivery = ?, attempts = ?, next_attempt_at_us = ?, last_error = ?,"
    " delivered_at_us = ? WHERE alert_id = ?"
)


def check_target(url: str, *, allow_private: bool) -> None:
    """Refuse (422) a webhook URL that is not http(s) or names a private address literally
    (a name is resolved, once, and checked at each delivery)."""
    try:
        targets.check_url(url, allow_private=allow_private)
    except targets.TargetRefused as exc:
        hint = (
            ""
            if "private" not in str(exc)
            else ("; set credits.webhooks.allow_private_targets to allow it")
        )
        raise Problem(422, f"webhook_url {exc}{hint}", type="validation-error") from None


class WebhookDelivery:
    """Polls the alert outbox and POSTs due alerts; at least once, with exponential backoff."""

    def __init__(
        self,
        service: CreditsService,
        *,
        metrics: CreditsMetrics | None = None,
        clock: Callable[[], int] = now_us,
        poll_interval: float = 1.0,
    ) -> None:
        self.service = service
        self.settings = service.settings.webhooks
        self.metrics = metrics
        self.clock = clock
        self.poll_interval = poll_interval
        self._client: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._wakeup = asyncio.Event()
        self._stopping = False
        service.writer.stats.observers.append(self._after_commit)

    def _after_commit(self, batch: Any) -> None:
        if any(alert[8] == "pending" for alert in batch.plan.alerts):
            self._wakeup.set()

    async def start(self) -> None:
        """Start the delivery task."""
        timeout = self.settings.timeout.total_seconds()
        # No keep-alive: a pooled TLS connection to one address must not carry another
        # name's request (each request is pinned to the address its name was checked at).
        self._client = httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,
            limits=httpx.Limits(max_keepalive_connections=0),
        )
        self._task = asyncio.create_task(self._run(), name="credits-webhooks")

    async def stop(self) -> None:
        """Stop delivering (pending alerts stay in the outbox)."""
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
        if self._client is not None:
            await self._client.aclose()

    async def _run(self) -> None:
        while not self._stopping:
            self._wakeup.clear()
            try:
                delivered = await self.deliver_due()
            except Exception as exc:
                log.warning("credits.webhook_loop_failed", error=repr(exc))
                delivered = 0
            if delivered >= _BATCH:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self.poll_interval)

    def _due(self, now: int) -> list[tuple[Any, ...]]:
        store = self.service.store
        lease = now + int(self.settings.timeout.total_seconds() * 2_000_000)
        claimed = []
        with store.reading() as cur:
            cur.execute(store.sql(_DUE), (now,))
            rows = cur.fetchall()
        for row in rows:
            with store.writing() as cur:
                cur.execute(store.sql(_CLAIM), (lease, row[0], row[9]))
                if cur.rowcount == 1:
                    claimed.append(row)
        return claimed

    async def deliver_due(self) -> int:
        """Attempt every alert whose time has come; the number attempted."""
        rows = await anyio.to_thread.run_sync(self._due, self.clock())
        await asyncio.gather(*(self._deliver(row) for row in rows))
        return len(rows)

    async def _deliver(self, row: tuple[Any, ...]) -> None:
        alert_id, tenant, account_id, threshold, available, position, at_us, url = row[:8]
        attempts, sealed = int(row[8]) + 1, row[10]
        body = orjson.dumps(
            {
                "id": alert_id,
                "type": "credits.threshold.crossed",
                "created": iso(at_us),
                "data": {
                    "tenant": tenant,
                    "account_id": account_id,
                    "threshold": threshold,
                    "available": available,
                    "position": position,
                },
            }
        )
        error = await self._post(url, tenant, account_id, sealed, body, alert_id)
        now = self.clock()
        update: tuple[Any, ...]
        if error is None:
            update = ("delivered", attempts, None, None, now, alert_id)
            result = "delivered"
        elif attempts >= self.settings.max_attempts or error.startswith("refused:"):
            update = ("failed", attempts, None, error, None, alert_id)
            result = "failed"
        else:
            update = ("pending", attempts, now + self._backoff(attempts), error, None, alert_id)
            result = "retry"
        store = self.service.store

        def save() -> None:
            with store.writing() as cur:
                cur.execute(store.sql(_RESULT), update)

        await anyio.to_thread.run_sync(save)
        if self.metrics is not None:
            self.metrics.deliveries.labels(result).inc()
        log.info(
            "credits.webhook", alert_id=alert_id, result=result, attempts=attempts, error=error
        )

    async def _post(
        self, url: str, tenant: str, account_id: str, sealed: str | None, body: bytes, event: str
    ) -> str | None:
        if sealed is None:
            return "refused: the threshold no longer has a webhook secret"
        try:
            target = await targets.resolve(url, allow_private=self.settings.allow_private_targets)
        except targets.LookupFailed as exc:
            return f"not sent: {exc}"[:500]  # retried with backoff
        except targets.TargetRefused as exc:
            return f"refused: webhook_url {exc}"[:500]
        secret = self.service.webhook_secret(tenant, account_id, sealed)
        headers = {
            "Host": targets.host_header(url),
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(secret, self.clock() // 1_000_000, body),
            "ShieldX-Event-Id": event,
            "User-Agent": f"ShieldX-Webhooks/{__version__}",
        }
        assert self._client is not None
        try:
            response = await self._client.post(
                target.url, content=body, headers=headers, extensions=target.extensions
            )
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"[:500]
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"

    def _backoff(self, attempts: int) -> int:
        base = self.settings.backoff.total_seconds() * 2 ** (attempts - 1)
        capped = min(base, self.settings.max_backoff.total_seconds())
        return int(capped * random.uniform(0.9, 1.1) * 1_000_000)
