"""Settings sections owned by the shadow service."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field

from shieldx.platform.settings_types import Duration, Port, Section


class ShadowSettings(Section):
    """The shadow service (:5005)."""

    port: Port = 5005


class DeploymentSettings(Section):
    """Progressive rule deployment defaults (seed: deployment)."""

    strategy: Literal["canary", "blue_green", "rolling", "immediate"] = "canary"
    canary_percentage: list[int] = Field(default_factory=lambda: [10, 25, 50, 100])
    canary_duration: Duration = timedelta(minutes=10)
    auto_rollback: bool = True
    rollback_threshold: float = Field(0.05, ge=0.0, le=1.0)
    health_check_interval: Duration = timedelta(seconds=30)
    traffic_shift_duration: Duration = timedelta(minutes=5)
