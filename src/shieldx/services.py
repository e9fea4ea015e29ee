"""The services one process can run, their default ports and where their components live."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from shieldx.config import Settings
from shieldx.platform.app import ComponentFactory


@dataclass(frozen=True)
class ServiceInfo:
    """A service's name, its settings section and the module that builds its component."""

    name: str
    module: str
    summary: str

    def port(self, settings: Settings) -> int:
        """The configured port of this service."""
        section = getattr(settings, self.name)
        port = section.port
        assert isinstance(port, int)
        return port

    def factory(self) -> ComponentFactory:
        """Import the service's api module and return its component factory."""
        module = importlib.import_module(self.module)
        factory: ComponentFactory = module.component
        return factory


SERVICES: dict[str, ServiceInfo] = {
    info.name: info
    for info in (
        ServiceInfo("credits", "shieldx.credits.api", "event-sourced credit ledger"),
        ServiceInfo("shadow", "shieldx.shadow.api", "shadow rules, A/B tests, rollouts, flags"),
        ServiceInfo("camouflage", "shieldx.camouflage.api", "decoys, recon logging, honeytokens"),
        ServiceInfo("locator", "shieldx.locator.api", "Ed25519 access tokens"),
    )
}
