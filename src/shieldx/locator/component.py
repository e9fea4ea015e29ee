"""Composition of the locator service: its objects, routes and background work, wired once."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import anyio.to_thread
import structlog
from prometheus_client import CollectorRegistry

from shieldx.locator.exchange import api as exchange_api
from shieldx.locator.exchange.oidc import IdTokenVerifier
from shieldx.locator.exchange.service import TokenExchange
from shieldx.locator.keys import api as keys_api
from shieldx.locator.metrics import LocatorMetrics
from shieldx.locator.settings import LocatorSettings
from shieldx.locator.state.refresh import CoalescedRefresh, Freshness
from shieldx.locator.tokens import api as tokens_api
from shieldx.locator.tokens.service import LocatorService
from shieldx.platform.app import Component
from shieldx.platform.context import PlatformContext
from shieldx.platform.honeytokens import HoneytokenRegistry

log = structlog.get_logger("shieldx.locator")


def component(ctx: PlatformContext, registry: CollectorRegistry) -> Component:
    """Build the locator service's routes and background work."""
    return build_component(ctx, registry)


def build_component(
    ctx: PlatformContext, registry: CollectorRegistry, *, clock: Callable[[], float] = time.time
) -> Component:
    """The locator component with an explicit clock (tests move time without sleeping)."""
    settings = ctx.settings.locator
    service = LocatorService(
        db=ctx.db,
        keyring=ctx.keyring,
        settings=ctx.settings,
        metrics=LocatorMetrics(registry),
        clock=clock,
    )
    freshness = Freshness(
        CoalescedRefresh(service.fetch_changes, service.apply),
        lambda: service.applied_versions,
        probe=service.version_file,
        max_staleness=settings.revocation_refresh.total_seconds(),
    )
    provides: dict[type[Any], Any] = {
        LocatorService: service,
        Freshness: freshness,
        LocatorSettings: settings,
        HoneytokenRegistry: ctx.honeytokens,
    }
    if settings.oidc.enabled:
        verifier = IdTokenVerifier.from_settings(
            settings.oidc, leeway=settings.clock_skew.total_seconds()
        )
        # Absent when disabled: the exchange route then answers 404.
        provides[TokenExchange] = TokenExchange(service, verifier)
    maintenance: list[asyncio.Task[None]] = []

    async def maintain_forever() -> None:
        interval = settings.maintenance_interval.total_seconds()
        while True:
            await asyncio.sleep(interval)
            try:
                await anyio.to_thread.run_sync(service.maintain)
                service.forget_expired()
                await freshness.refresh.ensure_fresh()
            except Exception:
                log.exception("locator.maintenance_failed")

    async def start() -> None:
        await anyio.to_thread.run_sync(service.start)
        maintenance.append(asyncio.get_running_loop().create_task(maintain_forever()))

    async def stop() -> None:
        for task in maintenance:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        service.close()

    return Component(
        routers=[tokens_api.router, exchange_api.router, keys_api.router],
        on_startup=[start],
        on_shutdown=[stop],
        description="ShieldX locator: short-lived Ed25519 access tokens",
        extra={"service": service, "freshness": freshness},
        provides=provides,
    )
