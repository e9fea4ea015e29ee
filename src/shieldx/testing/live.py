"""Serve an ASGI app over real loopback HTTP from a background thread, for tests."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp

from shieldx.platform.server import ConnectionGuard, uvicorn_config


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
