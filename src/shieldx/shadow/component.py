"""HTTP routes of the shadow service: thin shells around ShadowService."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from shieldx.platform.app import Component
from shieldx.platform.context import PlatformContext
from shieldx.shadow.flags.api import flags_router
from shieldx.shadow.metrics import ShadowMetrics
from shieldx.shadow.rollouts.api import rollouts_router
from shieldx.shadow.rules.api import decide_router, rules_router
from shieldx.shadow.service import ShadowService
from shieldx.shadow.timeutil import Clock, system_clock


def component(ctx: PlatformContext, registry: CollectorRegistry) -> Component:
    """Build the shadow service's routes and background work."""
    return build_component(ctx, registry)


def build_component(
    ctx: PlatformContext,
    registry: CollectorRegistry,
    *,
    clock: Clock = system_clock,
    background: bool = True,
) -> Component:
    """The shadow component with an explicit clock (and, for tests, no background tasks).

    background=False leaves the flusher, refresher and controller to the caller, which
    drives them step by step.
    """
    service = ShadowService(
        db=ctx.db, settings=ctx.settings, metrics=ShadowMetrics(registry), clock=clock
    )

    async def start() -> None:
        await service.start(background=background)

    return Component(
        routers=[
            decide_router(service),
            rules_router(service, ctx.settings),
            rollouts_router(service, ctx.settings),
            flags_router(service),
        ],
        on_startup=[start],
        on_shutdown=[service.stop],
        # A mirror batch (/shadow/traffic) is the largest body this service takes.
        max_body_bytes=ctx.settings.shadow.max_body_bytes,
        description="ShieldX shadow service: rules in shadow, A/B tests, rollouts, flags",
        extra={"service": service},
    )
