"""The services one process can run, their default ports and where their components live."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from shieldx.config import Settings
from shieldx.platform.app import Component, ComponentFactory, combine
from shieldx.platform.context import PlatformContext


@dataclass(frozen=True)
class ServiceInfo:
    """A service's name, its settings section and the module that builds its component."""

    name: str
    module: str
    summary: str
    # Modules whose components are served on this service's port too (their `component`
    # factories are combined with the service's own, in this order).
    engines: tuple[str, ...] = ()

    def port(self, settings: Settings) -> int:
        """The configured port of this service."""
        section = getattr(settings, self.name)
        port = section.port
        assert isinstance(port, int)
        return port

    def factory(self) -> ComponentFactory:
        """The factory of the service's component, combined with its engines' components."""
        factories: list[ComponentFactory] = [
            importlib.import_module(name).component for name in (self.module, *self.engines)
        ]
        if len(factories) == 1:
            return factories[0]

        def build(ctx: PlatformContext, registry: CollectorRegistry) -> Component:
            return combine(*(factory(ctx, registry) for factory in factories))

        return build


SERVICES: dict[str, ServiceInfo] = {
    info.name: info
    for info in (
        ServiceInfo(
            "credits",
            "shieldx.credits.component",
            "event-sourced credit ledger",
            engines=(
                "shieldx.chaos.component",
                "shieldx.compliance.component",
                "shieldx.dr.component",
            ),
        ),
        ServiceInfo(
            "shadow", "shieldx.shadow.component", "shadow rules, A/B tests, rollouts, flags"
        ),
        ServiceInfo(
            "camouflage", "shieldx.camouflage.component", "decoys, recon logging, honeytokens"
        ),
        ServiceInfo("locator", "shieldx.locator.component", "Ed25519 access tokens"),
    )
}
