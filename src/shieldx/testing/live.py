"""Serve an ASGI app over real loopback HTTP from a background thread, for tests."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from types import TracebackType
from typing import TypeVar

import uvicorn
from starlette.types import ASGIApp

from shieldx.platform.server import ConnectionGuard, uvicorn_config

_T = TypeVar("_T")


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class LiveServer:
    """uvicorn on 127.0.0.1 and a free port; `url` is its base URL while inside `with`."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        startup_timeout: float = 30.0,
        guard: ConnectionGuard | None = None,
    ) -> None:
        self.app = app
        self.startup_timeout = startup_timeout
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = _QuietServer(uvicorn_config(app, shutdown_timeout=5, guard=guard))
        self._thread = threading.Thread(target=self._serve, daemon=True, name="live-server")
        self._error: BaseException | None = None

    def _serve(self) -> None:
        try:
            asyncio.run(self.server.serve(sockets=[self._sock]))
        except BaseException as exc:  # reported to the test thread in __enter__/__exit__
            self._error = exc

    def __enter__(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self.server.started:
            if self._error is not None or not self._thread.is_alive():
                raise RuntimeError(f"live server failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                raise RuntimeError("live server did not start in time")
            time.sleep(0.005)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=30)
        self._sock.close()
        if self._error is not None and exc is None:
            raise RuntimeError(f"live server crashed: {self._error!r}")


class LivePlatform:
    """Several apps served on one event loop in one background thread, as `shieldx up` does.

    `urls[name]` is each app's base URL and `loop` the shared loop while inside `with`;
    `call(fn)` runs FN on that loop (to inspect its tasks) and returns its result.
    """

    def __init__(
        self,
        apps: dict[str, ASGIApp],
        *,
        startup_timeout: float = 60.0,
        ports: dict[str, int] | None = None,
    ) -> None:
        self.startup_timeout = startup_timeout
        self._socks: dict[str, socket.socket] = {}
        self.urls: dict[str, str] = {}
        self.servers: dict[str, uvicorn.Server] = {}
        for name, app in apps.items():
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            # A given port lets settings name the listener (as `shieldx up` binds them).
            sock.bind(("127.0.0.1", (ports or {}).get(name, 0)))
            self._socks[name] = sock
            self.urls[name] = f"http://127.0.0.1:{sock.getsockname()[1]}"
            self.servers[name] = _QuietServer(uvicorn_config(app, shutdown_timeout=5))
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True, name="live-platform")
        self._error: BaseException | None = None

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        await asyncio.gather(
            *(server.serve(sockets=[self._socks[name]]) for name, server in self.servers.items())
        )

    def _serve(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to the test thread in __enter__/__exit__
            self._error = exc

    def call(self, fn: Callable[[], _T], timeout: float = 30.0) -> _T:
        """FN's result, run on the platform's loop (between its other callbacks)."""
        assert self.loop is not None

        async def run() -> _T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)

    def run(self, fn: Callable[[], Awaitable[_T]], timeout: float = 60.0) -> _T:
        """The result of awaiting FN() on the platform's loop."""
        assert self.loop is not None

        async def run() -> _T:
            return await fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)

    def __enter__(self) -> LivePlatform:
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not all(server.started for server in self.servers.values()):
            if self._error is not None or not self._thread.is_alive():
                raise RuntimeError(f"live platform failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                raise RuntimeError("live platform did not start in time")
            time.sleep(0.005)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for server in self.servers.values():
            server.should_exit = True
        self._thread.join(timeout=60)
        for sock in self._socks.values():
            sock.close()
        if self._error is not None and exc is None:
            raise RuntimeError(f"live platform crashed: {self._error!r}")
