"""Raise, deliver, acknowledge and escalate compliance alerts."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import anyio.to_thread
import httpx
import structlog

from shieldx.compliance.alerts.channels import (
    email_message,
    send_email,
    send_syslog,
    send_webhook,
)
from shieldx.compliance.alerts.store import AlertStore, NewAlert
from shieldx.compliance.settings import ComplianceSettings
from shieldx.platform.bus import EventBus

log = structlog.get_logger("shieldx.compliance.alerts")


class AlertService:
    """Alerts raised once per condition, sent to every configured channel, escalated once when
    nobody acknowledges them within compliance.escalate_after."""

    def __init__(
        self,
        *,
        store: AlertStore,
        settings: ComplianceSettings,
        http: httpx.AsyncClient,
        clock: Callable[[], float] = time.time,
        bus: EventBus | None = None,
    ) -> None:
        self.bus = bus
        self.store = store
        self.settings = settings
        self.http = http
        self.clock = clock
        self._task: asyncio.Task[None] | None = None

    def now_us(self) -> int:
        """The current time in microseconds since the epoch."""
        return int(self.clock() * 1_000_000)

    async def raise_alert(self, alert: NewAlert) -> dict[str, Any] | None:
        """Store and deliver ALERT unless its condition was raised before."""
        row = await anyio.to_thread.run_sync(self.store.raise_new, alert, self.now_us())
        if row is not None:
            log.warning(
                "compliance.alert.raised",
                alert_id=row["id"],
                severity=alert.severity,
                subject=alert.subject,
            )
            await self._deliver(row, "compliance.alert.raised")
        return row

    async def acknowledge(self, alert_id: str, *, by: str) -> dict[str, Any] | None:
        """Acknowledge an alert (stops its escalation); None when there is no such alert."""
        row = await anyio.to_thread.run_sync(
            lambda: self.store.acknowledge(alert_id, by, self.now_us())
        )
        if row is not None:
            log.info("compliance.alert.acknowledged", alert_id=alert_id, by=by)
        return row

    async def escalate_due(self) -> list[dict[str, Any]]:
        """Escalate every alert unacknowledged for longer than escalate_after."""
        now = self.now_us()
        cutoff = now - int(self.settings.escalate_after.total_seconds() * 1_000_000)
        rows = await anyio.to_thread.run_sync(self.store.claim_escalations, cutoff, now)
        for row in rows:
            log.warning("compliance.alert.escalated", alert_id=row["id"], severity=row["severity"])
            await self._deliver(row, "compliance.alert.escalated")
        return rows

    async def _deliver(self, row: dict[str, Any], event: str) -> None:
        channels = self.settings.channels
        payload = {"event": event, **{k: v for k, v in row.items() if k != "deliveries"}}
        outcomes: dict[str, str] = {}
        stage = event.rsplit(".", 1)[-1]
        if self.bus is not None:
            self.bus.publish(event, payload)
        if channels.webhook_url is not None and channels.webhook_secret is not None:
            outcomes[f"webhook.{stage}"] = await send_webhook(
                self.http,
                channels.webhook_url,
                channels.webhook_secret.get_secret_value().encode(),
                payload,
                channels.timeout.total_seconds(),
            )
        if channels.syslog_host is not None:
            outcomes[f"syslog.{stage}"] = await send_syslog(
                channels.syslog_host, channels.syslog_port, payload
            )
        if channels.smtp_host is not None:
            outcomes[f"email.{stage}"] = await send_email(
                channels.smtp_host,
                channels.smtp_port,
                email_message(payload, channels.mail_from, channels.mail_to),
                channels.timeout.total_seconds(),
            )
        if outcomes:
            await anyio.to_thread.run_sync(self.store.record_delivery, row["id"], outcomes)

    async def start(self) -> None:
        """Start the escalation loop (a quarter of escalate_after between passes, 0.2-30 s)."""
        interval = min(30.0, max(0.2, self.settings.escalate_after.total_seconds() / 4))

        async def loop() -> None:
            while True:
                await asyncio.sleep(interval)
                try:
                    await self.escalate_due()
                except Exception:  # the loop must outlive a database hiccup; it is logged
                    log.exception("compliance.escalation.failed")

        self._task = asyncio.create_task(loop(), name="compliance-escalation")

    async def stop(self) -> None:
        """Stop the escalation loop."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
