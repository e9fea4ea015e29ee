"""Composition of the shadow service: its routers, background work and the objects routes need."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from shieldx.platform.app import Component
from shieldx.platform.context import PlatformContext
from shieldx.shadow.experiments import api as experiments_api
from shieldx.shadow.flags import api as flags_api
from shieldx.shadow.flags import ofrep_api
from shieldx.shadow.flags.service import FlagService
from shieldx.shadow.metrics import ShadowMetrics
from shieldx.shadow.rollouts import api as rollouts_api
from shieldx.shadow.rules import api as rules_api
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
        # The decision route first: its lean Starlette route must match before anything else.
        routers=[
            rules_api.decide_router,
            rules_api.router,
            experiments_api.router,
            rollouts_api.router,
            flags_api.router,
            ofrep_api.router,
        ],
        on_startup=[start],
        on_shutdown=[service.stop],
        # A mirror batch (/shadow/traffic) is the largest body this service takes.
        max_body_bytes=ctx.settings.shadow.max_body_bytes,
        description="ShieldX shadow service: rules in shadow, A/B tests, rollouts, flags",
        provides={ShadowService: service, FlagService: service.flags},
        extra={"service": service},
    )
