"""Composition of the chaos engine, served on the credits port (see services.py `engines`)."""

from __future__ import annotations

import asyncio
import json

import anyio.to_thread
from prometheus_client import CollectorRegistry

from shieldx.chaos.experiments.api import router as experiments_router
from shieldx.chaos.experiments.domain import ExperimentError, parse_experiment
from shieldx.chaos.experiments.service import ChaosEngine, Scheduled, run_schedule
from shieldx.chaos.experiments.store import ExperimentStore
from shieldx.chaos.faults.api import router as faults_router
from shieldx.chaos.faults.http import HttpFaults
from shieldx.chaos.faults.proxy import FaultProxy, split_host_port
from shieldx.chaos.faults.service import FaultService
from shieldx.chaos.metrics import ChaosMetrics
from shieldx.chaos.safety.domain import SafetyPolicy
from shieldx.chaos.safety.service import FaultGuard
from shieldx.chaos.settings import ChaosSettings
from shieldx.config import ConfigError
from shieldx.platform.app import Component
from shieldx.platform.context import PlatformContext
from shieldx.platform.listeners import listener_url


def policy_from(settings: ChaosSettings) -> SafetyPolicy:
    """The safety policy the chaos settings describe."""
    return SafetyPolicy(
        enabled=settings.enabled,
        production=settings.environment == "production",
        production_enabled=settings.production_enabled,
        safe_hours=frozenset(settings.safe_hours),
        max_concurrent=settings.max_concurrent,
        max_error_rate=settings.max_impact_threshold,
        max_p99_ms=settings.max_p99.total_seconds() * 1000,
    )


def proxies_from(settings: ChaosSettings) -> dict[str, FaultProxy]:
    """One (not yet started) fault proxy per chaos.proxies entry."""
    proxies = {}
    for name, route in settings.proxies.items():
        listen_host, listen_port = split_host_port(route.listen)
        upstream_host, upstream_port = split_host_port(route.upstream)
        proxies[name] = FaultProxy(name, listen_host, listen_port, upstream_host, upstream_port)
    return proxies


def scheduled_from(settings: ChaosSettings, base_url: str) -> list[Scheduled]:
    """The experiments of chaos.schedule, read and validated now: a bad file stops start-up."""
    scheduled: list[Scheduled] = []
    problems: list[str] = []
    for path in settings.schedule:
        try:
            definition = json.loads(path.read_text(encoding="utf-8"))
            experiment = parse_experiment(
                definition,
                max_ttl_s=settings.max_fault_ttl.total_seconds(),
                configuration={"shieldx_url": base_url},
            )
        except OSError as exc:
            problems.append(f"chaos.schedule: cannot read {path} ({exc.strerror})")
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            problems.append(f"chaos.schedule: {path} is not JSON: {exc}")
        except ExperimentError as exc:
            problems.append(f"chaos.schedule: {path}: " + "; ".join(exc.problems))
        else:
            scheduled.append(Scheduled(str(path), definition, experiment))
    if problems:
        raise ConfigError(problems)
    return scheduled


def component(ctx: PlatformContext, registry: CollectorRegistry) -> Component:
    """The chaos routes, the fault proxies, the HTTP fault hook and the halt guard."""
    settings = ctx.settings.chaos
    metrics = ChaosMetrics(registry)
    http = HttpFaults()
    faults = FaultService(proxies=proxies_from(settings), http=http)
    store = ExperimentStore(ctx.db)
    policy = policy_from(settings)
    engine = ChaosEngine(
        faults=faults,
        store=store,
        policy=policy,
        metrics=metrics,
        auto_rollback=settings.auto_rollback,
        max_ttl_s=settings.max_fault_ttl.total_seconds(),
        bus=ctx.bus,
    )
    # Opened now, not at startup: the credits service, which starts first, may reach its
    # database through one of them.
    faults.open_proxies()
    guard = FaultGuard(
        faults=faults,
        store=store,
        policy=policy,
        metrics=metrics,
        auto_rollback=settings.auto_rollback,
        bus=ctx.bus,
    )

    settings_all = ctx.settings
    base_url = listener_url(
        settings_all.server.host, settings_all.credits.port, settings_all.server.tls.enabled
    )
    scheduled = scheduled_from(settings, base_url)
    schedule: list[asyncio.Task[None]] = []

    async def start() -> None:
        await anyio.to_thread.run_sync(store.mark_interrupted)
        await guard.start()
        if scheduled:
            interval = settings.experiment_interval.total_seconds()
            schedule.append(
                asyncio.create_task(run_schedule(engine, scheduled, interval, base_url))
            )

    async def stop() -> None:
        for task in schedule:
            task.cancel()
        await asyncio.gather(*schedule, return_exceptions=True)
        await engine.stop()
        await guard.stop()
        faults.close()

    return Component(
        routers=[experiments_router, faults_router],
        on_startup=[start],
        on_shutdown=[stop],
        request_hooks=[http],
        provides={ChaosEngine: engine, FaultService: faults},
    )
