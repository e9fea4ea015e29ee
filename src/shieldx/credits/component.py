"""The credits component: the one place that wires the sub-packages together.

It builds the service (ledger and writer), the sweeper and the webhook delivery, gives the
module-level routes of ledger, projections and audit what they need (Component.provides),
and starts and stops the background work.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry

from shieldx.credits.alerts.webhooks import WebhookDelivery
from shieldx.credits.audit import api as audit_api
from shieldx.credits.ledger import api as ledger_api
from shieldx.credits.ledger.ids import now_us
from shieldx.credits.ledger.service import CreditsService
from shieldx.credits.ledger.sweeper import Sweeper
from shieldx.credits.metrics import CreditsMetrics
from shieldx.credits.projections import api as projections_api
from shieldx.platform.app import Component
from shieldx.platform.context import PlatformContext


def build_component(
    ctx: PlatformContext,
    registry: CollectorRegistry,
    *,
    clock: Callable[[], int] = now_us,
) -> Component:
    """The credits component with an explicit clock (tests move time by hand)."""
    settings = ctx.settings.credits
    metrics = CreditsMetrics(registry, gauge_tenants=settings.balance_gauge_tenants)
    service = _ledger(ctx, registry, clock)
    # One writer, sweeper and webhook delivery per database (per shard when sharded).
    databases = list(service.shard_services().values())
    sweepers = [Sweeper(s, metrics=metrics, clock=clock) for s in databases]
    poll = min(1.0, settings.webhooks.backoff.total_seconds())
    deliveries = [
        WebhookDelivery(s, metrics=metrics, clock=clock, poll_interval=poll) for s in databases
    ]
    for shard, sweeper in zip(databases, sweepers, strict=True):
        shard.writer.stats.observers.append(sweeper.observe_batch)
        shard.writer.supervisor.observers.append(metrics.writer_state)

    async def start() -> None:
        """Start the writers, projections, sweepers and webhook delivery."""
        await service.start()
        for sweeper in sweepers:
            await sweeper.start()
        for delivery in deliveries:
            await delivery.start()

    async def stop() -> None:
        """Stop them, draining the writers."""
        for sweeper in sweepers:
            await sweeper.stop()
        for delivery in deliveries:
            await delivery.stop()
        await service.stop()

    return Component(
        routers=[ledger_api.router, projections_api.router, audit_api.router],
        on_startup=[start],
        on_shutdown=[stop],
        readiness=[s.writer.unready for s in databases],
        description="ShieldX credits: an event-sourced, idempotent, hash-chained credit ledger.",
        extra={
            "service": service,
            "sweeper": sweepers[0],
            "webhooks": deliveries[0],
            "sweepers": sweepers,
        },
        provides={CreditsService: service, CreditsMetrics: metrics},
    )


def _ledger(
    ctx: PlatformContext, registry: CollectorRegistry, clock: Callable[[], int]
) -> CreditsService:
    """The ledger: the plain service on the main database, or (several shards configured)
    the sharded front over one service per shard."""
    sharding = ctx.settings.sharding
    if sharding.num_shards == 1 and len(sharding.shards) <= 1:
        return CreditsService(ctx, clock=clock)
    from shieldx.credits.shards.service import open_front  # only when sharded

    return open_front(ctx, registry, clock=clock)


def component(ctx: PlatformContext, registry: CollectorRegistry) -> Component:
    """Build the credits service's routes and background work."""
    return build_component(ctx, registry)
