"""Composition of the compliance engine (served on the credits port, as the seed places it)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx
from prometheus_client import CollectorRegistry

from shieldx.compliance.alerts.api import router as alerts_router
from shieldx.compliance.alerts.service import AlertService
from shieldx.compliance.alerts.store import AlertStore
from shieldx.compliance.assessment.api import router as assessment_router
from shieldx.compliance.assessment.service import (
    AssessmentService,
    honeytoken_alert,
    run_schedule,
)
from shieldx.compliance.assessment.store import AssessmentStore
from shieldx.compliance.checks.registry import CHECKS
from shieldx.compliance.frameworks.loader import load_frameworks
from shieldx.compliance.metrics import ComplianceMetrics
from shieldx.compliance.reports.api import router as reports_router
from shieldx.config import Settings
from shieldx.platform.app import Component
from shieldx.platform.context import PlatformContext
from shieldx.platform.honeytokens import USED_TOPIC
from shieldx.platform.listeners import listener_url
from shieldx.platform.tls import client_context


def targets(settings: Settings) -> dict[str, str]:
    """The base URL of every service's configured listener (port 0 means unknown: skipped)."""
    # Every settings section with a port is a service's listener (read from the settings, not
    # from shieldx.services: the composition imports this module, never the other way round).
    ports: dict[str, int] = {}
    for name in type(settings).model_fields:
        port = getattr(getattr(settings, name), "port", None)
        if isinstance(port, int) and not isinstance(port, bool):
            ports[name] = port
    tls = settings.server.tls.enabled
    return {
        name: listener_url(settings.server.host, port, tls) for name, port in ports.items() if port
    }


def component(ctx: PlatformContext, registry: CollectorRegistry) -> Component:
    """Build the compliance component: assessment, reports and alert routes, escalation loop."""
    settings = ctx.settings
    frameworks = load_frameworks(
        enabled=settings.compliance.enabled_frameworks,
        extra_dir=settings.compliance.frameworks_dir,
        known_checks=CHECKS,
    )
    # Probes of the platform's own listeners trust their certificate, self-signed ones too.
    http = httpx.AsyncClient(timeout=10.0, verify=client_context(settings.server.tls))
    alerts = AlertService(
        store=AlertStore(ctx.db), settings=settings.compliance, http=http, bus=ctx.bus
    )
    service = AssessmentService(
        settings=settings,
        db=ctx.db,
        keyring=ctx.keyring,
        frameworks=frameworks,
        targets=targets(settings),
        limiters={
            "key": (ctx.key_limiter.rate, ctx.key_limiter.burst),
            "tenant": (ctx.tenant_limiter.rate, ctx.tenant_limiter.burst),
            "address": (ctx.source_limiter.rate, ctx.source_limiter.burst),
        },
        store=AssessmentStore(ctx.db),
        alerts=alerts,
        http=http,
        metrics=ComplianceMetrics(registry),
    )
    pending: set[asyncio.Task[Any]] = set()
    schedule: list[asyncio.Task[None]] = []

    def on_honeytoken(topic: str, event: Mapping[str, Any]) -> None:
        # Published on the event loop by the honeytoken registry: alert at once.
        alert = honeytoken_alert(
            int(event["use_id"]), str(event["location"]), datetime.fromisoformat(event["used_at"])
        )
        task = asyncio.get_running_loop().create_task(alerts.raise_alert(alert))
        pending.add(task)
        task.add_done_callback(pending.discard)

    async def start() -> None:
        ctx.bus.subscribe(USED_TOPIC, on_honeytoken)
        await alerts.start()
        interval = settings.compliance.monitoring_interval
        if interval.total_seconds() > 0:  # 0 turns scheduled assessments off
            schedule.append(asyncio.create_task(run_schedule(service, ctx.api_keys, interval)))

    async def stop() -> None:
        for task in schedule:
            task.cancel()
        await asyncio.gather(*schedule, return_exceptions=True)
        await alerts.stop()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        await http.aclose()

    return Component(
        routers=[assessment_router, alerts_router, reports_router],
        on_startup=[start],
        on_shutdown=[stop],
        provides={AssessmentService: service, AlertService: alerts},
    )
