"""Settings sections owned by the locator token service."""

from __future__ import annotations

from shieldx.platform.settings_types import Port, Section


class LocatorSettings(Section):
    """The locator token service (:8080)."""

    port: Port = 8080
