"""Camouflage service test support: apps served on one event loop, keys, decoy clients."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from prometheus_client import CollectorRegistry
from starlette.types import ASGIApp

from shieldx.camouflage.component import component
from shieldx.camouflage.runtime import CamouflageService
from shieldx.config import Settings
from shieldx.platform import migrations
from shieldx.platform.app import Component, create_app
from shieldx.platform.context import PlatformContext, build_context
from shieldx.platform.roles import Role
from shieldx.platform.server import uvicorn_config

NMAP_UA = "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)"


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ServedApps:
    """Several ASGI apps served on ONE event loop in a thread (as `shieldx up` does)."""

    def __init__(self, apps: dict[str, ASGIApp]) -> None:
        self.loop = asyncio.new_event_loop()
        self.sockets: dict[str, socket.socket] = {}
        self.urls: dict[str, str] = {}
        for name in apps:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 0))
            self.sockets[name] = sock
            self.urls[name] = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.servers = {
            name: _QuietServer(uvicorn_config(app, shutdown_timeout=5))
            for name, app in apps.items()
        }
        self._thread = threading.Thread(target=self._run, daemon=True, name="served-apps")
        self._error: BaseException | None = None

    def _run(self) -> None:
        async def main() -> None:
            await asyncio.gather(
                *(s.serve(sockets=[self.sockets[n]]) for n, s in self.servers.items())
            )

        try:
            self.loop.run_until_complete(main())
        except BaseException as exc:
            self._error = exc

    def __enter__(self) -> ServedApps:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not all(s.started for s in self.servers.values()):
            if self._error is not None or not self._thread.is_alive():
                raise RuntimeError(f"apps failed to start: {self._error!r}")
            assert time.monotonic() < deadline, "apps did not start in time"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self.servers.values():
            server.should_exit = True
        self._thread.join(timeout=30)
        for sock in self.sockets.values():
            sock.close()
        if not self._thread.is_alive():
            # Else its self-pipe leaks, and whichever later test the collector hits fails.
            self.loop.close()
        if self._error is not None and not isinstance(self._error, SystemExit):
            raise RuntimeError(f"apps crashed: {self._error!r}")


@dataclass
class Camouflage:
    """A running camouflage app: its context, service, URL and keys by role."""

    ctx: PlatformContext
    service: CamouflageService
    url: str
    keys: dict[str, str]
    apps: ServedApps
    urls: dict[str, str] = field(default_factory=dict)

    def headers(self, role: str = "admin") -> dict[str, str]:
        """Authorization for a key of ROLE ('scoped' is an admin key scoped to a tenant)."""
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def api(self, method: str, path: str, role: str = "admin", **kwargs: Any) -> httpx.Response:
        """Call the management API."""
        return httpx.request(
            method, self.url + path, headers=self.headers(role), timeout=30, **kwargs
        )

    def decoy_url(self, name: str) -> str:
        """Base URL of a running decoy."""
        return f"http://127.0.0.1:{self.service.ports[name]}"

    def flush(self) -> None:
        """Wait until every event so far is written (runs on the service's loop)."""
        assert self.service.flush_threadsafe(30)

    def call(self, coro: Any) -> Any:
        """Run a coroutine on the service's loop."""
        return asyncio.run_coroutine_threadsafe(coro, self.apps.loop).result(30)


def _keys(ctx: PlatformContext) -> dict[str, str]:
    keys = {}
    for role in Role:
        _, keys[role.value] = ctx.api_keys.create(role=role, name=role.value)
    _, keys["scoped"] = ctx.api_keys.create(role=Role.ADMIN, tenant="acme", name="scoped")
    return keys


StartCamouflage = Callable[..., contextlib.AbstractContextManager[Camouflage]]


@pytest.fixture
def camouflage_ctx(
    make_settings: Callable[..., Settings],
) -> Iterator[Callable[..., PlatformContext]]:
    """Build (and close at the end) migrated contexts with camouflage overrides."""
    made: list[PlatformContext] = []

    def make(database_url: str | None = None, **camouflage: Any) -> PlatformContext:
        overrides: dict[str, Any] = {"camouflage": camouflage}
        if database_url is not None:
            overrides["database"] = {"url": database_url}
        ctx = build_context(make_settings(**overrides))
        migrations.upgrade(ctx.db)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()


@pytest.fixture
def start_camouflage() -> StartCamouflage:
    """A context manager that serves camouflage (plus extra services) on one loop."""
    keys_by_ctx: dict[int, dict[str, str]] = {}

    @contextlib.contextmanager
    def start(
        ctx: PlatformContext, extra: dict[str, ASGIApp] | None = None
    ) -> Iterator[Camouflage]:
        holder: dict[str, CamouflageService] = {}

        def factory(c: PlatformContext, registry: CollectorRegistry) -> Component:
            built = component(c, registry)
            holder["service"] = built.extra["service"]
            return built

        if id(ctx) not in keys_by_ctx:
            keys_by_ctx[id(ctx)] = _keys(ctx)
        apps = {"camouflage": create_app(ctx, "camouflage", factory), **(extra or {})}
        with ServedApps(apps) as served:
            yield Camouflage(
                ctx=ctx,
                service=holder["service"],
                url=served.urls["camouflage"],
                keys=keys_by_ctx[id(ctx)],
                apps=served,
                urls=served.urls,
            )

    return start


def wait_for(predicate: Callable[[], bool], deadline_s: float = 10.0) -> bool:
    """Poll PREDICATE until it holds or the deadline passes (no fixed sleeps)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture
def eventually() -> Callable[..., bool]:
    """wait_for as a fixture."""
    return wait_for
