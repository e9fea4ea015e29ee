"""Composition of the disaster-recovery engine, served on the credits port (services.py)."""

from __future__ import annotations

import asyncio
import contextlib

import anyio.to_thread
import structlog
from prometheus_client import CollectorRegistry

from shieldx.dr.failover.api import router as failover_router
from shieldx.dr.failover.service import DisasterRecovery
from shieldx.dr.failover.store import DrStore
from shieldx.dr.metrics import DrMetrics
from shieldx.platform.app import Component
from shieldx.platform.conninfo import libpq_conninfo
from shieldx.platform.context import PlatformContext

log = structlog.get_logger("shieldx.dr")


def component(ctx: PlatformContext, registry: CollectorRegistry) -> Component:
    """The /dr routes and, when regions are configured, the health loop."""
    settings = ctx.settings.disaster_recovery
    store = DrStore(ctx.db)
    conninfo = libpq_conninfo(ctx.db.engine.url) if ctx.db.backend == "postgresql" else ""
    engine = DisasterRecovery(
        settings,
        store=store,
        metrics=DrMetrics(registry),
        conninfo=conninfo,
        dispose_pool=ctx.db.engine.dispose,
    )
    task: asyncio.Task[None] | None = None

    async def loop() -> None:
        interval = settings.health_check_interval.total_seconds()
        while True:
            try:
                await anyio.to_thread.run_sync(engine.check_all)
            except Exception as exc:  # a failed round is logged; the next one runs anyway
                log.error("dr.health_check_failed", error=repr(exc))
            await asyncio.sleep(interval)

    async def start() -> None:
        nonlocal task
        if not settings.regions:
            return
        regions = [(r.name, r.provider, r.priority) for r in settings.regions]
        await anyio.to_thread.run_sync(store.ensure_regions, regions)
        await anyio.to_thread.run_sync(engine.apply_mode)
        task = asyncio.create_task(loop(), name="dr-health")

    async def stop() -> None:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return Component(
        routers=[failover_router],
        on_startup=[start],
        on_shutdown=[stop],
        provides={DisasterRecovery: engine},
    )
