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
    service = CreditsService(ctx, clock=clock)
    sweeper = Sweeper(service, metrics=metrics, clock=clock)
    delivery = WebhookDelivery(
        service,
        metrics=metrics,
        clock=clock,
        poll_interval=min(1.0, settings.webhooks.backoff.total_seconds()),
    )
    service.writer.stats.observers.append(sweeper.observe_batch)
    service.writer.supervisor.observers.append(metrics.writer_state)

    async def start() -> None:
        """Start the writer, projections, sweeper and webhook delivery."""
        await service.start()
        await sweeper.start()
        await delivery.start()

    async def stop() -> None:
        """Stop them, draining the writer."""
        await sweeper.stop()
        await delivery.stop()
        await service.stop()

    return Component(
        routers=[ledger_api.router, projections_api.router, audit_api.router],
        on_startup=[start],
        on_shutdown=[stop],
        readiness=[service.writer.unready],
        description="ShieldX credits: an event-sourced, idempotent, hash-chained credit ledger.",
        extra={"service": service, "sweeper": sweeper, "webhooks": delivery},
        provides={CreditsService: service, CreditsMetrics: metrics},
    )


def component(ctx: PlatformContext, registry: CollectorRegistry) -> Component:
    """Build the credits service's routes and background work."""
    return build_component(ctx, registry)
