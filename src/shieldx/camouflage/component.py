"""Composition of the camouflage service: the running service, its routes, start and stop."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from shieldx.camouflage.actors import api as actors_api
from shieldx.camouflage.decoys import api as decoys_api
from shieldx.camouflage.metrics import CamouflageMetrics
from shieldx.camouflage.recon import api as recon_api
from shieldx.camouflage.runtime import CamouflageService
from shieldx.camouflage.selection import api as selection_api
from shieldx.camouflage.sessions import api as sessions_api
from shieldx.platform.app import Component
from shieldx.platform.context import PlatformContext


def component(ctx: PlatformContext, registry: CollectorRegistry) -> Component:
    """Build the camouflage service's routes and background work."""
    service = CamouflageService(ctx, CamouflageMetrics(registry))
    return Component(
        routers=[
            selection_api.router,
            decoys_api.router,
            sessions_api.router,
            recon_api.router,
            actors_api.router,
        ],
        on_startup=[service.start],
        on_shutdown=[service.stop],
        # A full sensor batch (recording.log_batch_max reports) is the largest body.
        max_body_bytes=ctx.settings.camouflage.recording.api_max_body_bytes,
        description="ShieldX camouflage service: decoys, recon logging, maze, honeytokens",
        extra={"service": service},
        provides={CamouflageService: service},
    )
