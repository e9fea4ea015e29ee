"""Settings sections owned by the camouflage service."""

from __future__ import annotations

from shieldx.platform.settings_types import Port, Section


class CamouflageSettings(Section):
    """The camouflage management API (:8089); decoys listen on their own ports."""

    port: Port = 8089
