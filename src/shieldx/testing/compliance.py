"""Test support for the compliance engine: a platform's handles and its assessment's parts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from shieldx.platform.context import PlatformContext
from shieldx.platform.roles import Role
from shieldx.testing.live import LivePlatform

QUIET: dict[str, Any] = {
    "credits": {"projection_interval": "1h", "sweep_interval": "1h"},
    "shadow": {"flush_interval": "1h", "refresh_interval": "1h"},
    "deployment": {"health_check_interval": "1h"},
    "camouflage": {"recording": {"flush_interval": "1h"}, "decoys": []},
}
# The alert webhook signing key of the test platforms (a test value, not a credential).
WEBHOOK_SECRET = "compliance-webhook-secret"  # noqa: S105


@dataclass
class Receivers:
    """What the alert channels delivered: webhook requests and syslog datagrams."""

    webhooks: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    syslog: list[bytes] = field(default_factory=list)
    mail: list[bytes] = field(default_factory=list)
    smtp_port: int = 0
    webhook_url: str = ""
    syslog_port: int = 0


@dataclass
class Running:
    """The served platform, its context and an unscoped admin client of the credits port."""

    ctx: PlatformContext
    live: LivePlatform
    admin_key: str
    client: httpx.Client
    receivers: Receivers

    def url(self, service: str) -> str:
        """The base URL of SERVICE."""
        return self.live.urls[service]

    def assess(self) -> dict[str, Any]:
        """Run an assessment over HTTP and return it."""
        answer = self.client.post("/compliance/assessments", timeout=60)
        assert answer.status_code == 201, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def key(self, role: Role, tenant: str | None = None) -> str:
        """A new key of ROLE."""
        return self.ctx.api_keys.create(role=role, tenant=tenant, name="test")[1]


def control(result: dict[str, Any], framework: str, control_id: str) -> dict[str, Any]:
    """One control of an assessment."""
    found: dict[str, Any] = next(
        c for c in result["frameworks"][framework]["controls"] if c["id"] == control_id
    )
    return found


def check(result: dict[str, Any], name: str) -> dict[str, Any]:
    """The evidence of the first run of check NAME in an assessment."""
    for framework in result["frameworks"].values():
        for item in framework["controls"]:
            for evidence in item["evidence"]:
                if evidence["check"] == name:
                    found: dict[str, Any] = evidence
                    return found
    raise AssertionError(f"no check {name}")
