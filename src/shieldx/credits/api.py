"""HTTP routes of the credits service."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from shieldx.platform.app import Component
from shieldx.platform.context import PlatformContext


def component(ctx: PlatformContext, registry: CollectorRegistry) -> Component:
    """Build the credits service's routes and background work."""
    return Component(description="ShieldX credits service")
