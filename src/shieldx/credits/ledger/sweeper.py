"""Background upkeep: expire due holds and grants, drop old idempotency keys, refresh gauges."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import anyio.to_thread
import structlog

from shieldx.credits.ledger.ids import now_us
from shieldx.credits.ledger.service import CreditsService
from shieldx.credits.metrics import CreditsMetrics
from shieldx.credits.store.records import AccountKey
from shieldx.credits.writer.submissions import Batch
from shieldx.credits.writer.work_units import Expiry

log = structlog.get_logger("shieldx.credits")
_DUE_LIMIT = 1000

_DUE_HOLDS = (
    "SELECT DISTINCT tenant, account_id FROM credit_holds"
    " WHERE state = 'active' AND expires_at_us <= ? LIMIT 1000"
)
_DUE_GRANTS = (
    "SELECT DISTINCT tenant, account_id FROM credit_grants"
    " WHERE expired_at_us IS NULL AND expires_at_us IS NOT NULL AND expires_at_us <= ? LIMIT 1000"
)
_TOTALS = "SELECT tenant, SUM(balance), SUM(held) FROM credit_balances_read_model GROUP BY tenant"


class Sweeper:
    """Runs every credits.sweep_interval; `sweep` can also be called directly (tests, CLI)."""

    def __init__(
        self,
        service: CreditsService,
        *,
        metrics: CreditsMetrics | None = None,
        clock: Callable[[], int] = now_us,
    ) -> None:
        self.service = service
        self.metrics = metrics
        self.clock = clock
        self.interval = service.settings.sweep_interval.total_seconds()
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._last_retention = 0.0
        self._last_gauges = 0.0

    def due_accounts(self, now: int) -> list[AccountKey]:
        """Accounts with a hold or grant whose time has come (blocking)."""
        store = self.service.store
        found: dict[AccountKey, None] = {}
        with store.reading() as cur:
            for query in (_DUE_HOLDS, _DUE_GRANTS):
                cur.execute(store.sql(query), (now,))
                found.update(dict.fromkeys((t, a) for t, a in cur.fetchall()))
        return list(found)[:_DUE_LIMIT]

    async def sweep(self) -> int:
        """Record every due expiry now; the number of accounts touched."""
        keys = await anyio.to_thread.run_sync(self.due_accounts, self.clock())
        if keys:
            writer = self.service.writer
            await asyncio.gather(*(writer.submit(Expiry(key)) for key in keys))
        return len(keys)

    def forget_old_commands(self) -> int:
        """Delete idempotency records older than credits.idempotency_retention (blocking)."""
        retention = self.service.settings.idempotency_retention.total_seconds()
        cutoff = self.clock() - int(retention * 1_000_000)
        store = self.service.store
        with store.writing() as cur:
            cur.execute(store.sql("DELETE FROM command_log WHERE created_at_us < ?"), (cutoff,))
            deleted: int = cur.rowcount
        return deleted

    def tenant_totals(self) -> list[tuple[str, int, int]]:
        """Balance and held summed per tenant from the read model (blocking)."""
        with self.service.store.reading() as cur:
            cur.execute(_TOTALS)
            return [(t, int(b or 0), int(h or 0)) for t, b, h in cur.fetchall()]

    def observe_batch(self, batch: Batch) -> None:
        """After each commit: batch size, alerts raised (counted and logged)."""
        if self.metrics is not None:
            self.metrics.batch_size.observe(len(batch.submissions))
            self.metrics.queue_depth.set(self.service.writer.queue_depth)
        for alert in batch.plan.alerts:
            alert_id, tenant, account_id, threshold, available = alert[:5]
            log.info(
                "credits.alert",
                alert_id=alert_id,
                tenant=tenant,
                account_id=account_id,
                threshold=threshold,
                available=available,
                webhook=alert[8] == "pending",
            )
            if self.metrics is not None:
                self.metrics.alerts.inc()

    async def start(self) -> None:
        """Start the periodic task."""
        self._task = asyncio.create_task(self._run(), name="credits-sweeper")

    async def stop(self) -> None:
        """Stop the periodic task."""
        self._stop.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self._tick()
            except Exception as exc:
                log.warning("credits.sweep_failed", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval)

    async def _tick(self) -> None:
        await self.sweep()
        now = time.monotonic()
        if now - self._last_retention > 60:
            self._last_retention = now
            deleted = await anyio.to_thread.run_sync(self.forget_old_commands)
            if deleted:
                log.info("credits.idempotency_keys_expired", deleted=deleted)
        if self.metrics is not None and now - self._last_gauges > 10:
            self._last_gauges = now
            totals = await anyio.to_thread.run_sync(self.tenant_totals)
            self.metrics.set_balances(totals)
            lag = self.service.writer.head_position - self.service.projections.position
            self.metrics.projection_lag.set(max(0, lag))
