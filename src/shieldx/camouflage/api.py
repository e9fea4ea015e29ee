"""HTTP routes of the camouflage service."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from shieldx.platform.app import Component
from shieldx.platform.context import PlatformContext


def component(ctx: PlatformContext, registry: CollectorRegistry) -> Component:
    """Build the camouflage service's routes and background work."""
    return Component(description="ShieldX camouflage service")
