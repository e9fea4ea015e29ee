"""Run one or more service apps on one event loop, one listener each, with graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import signal
import socket
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from shieldx.platform.app import platform_state
from shieldx.platform.errors import PROBLEM_CONTENT_TYPE, problem_body

log = structlog.get_logger("shieldx.server")
_T = TypeVar("_T")


class ServeError(Exception):
    """A listener could not start; the message says which and why."""


@dataclass(frozen=True)
class Listener:
    """A service app and the address it listens on."""

    service: str
    app: ASGIApp
    host: str
    port: int

    @property
    def url(self) -> str:
        """The base URL clients use."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


class ProblemHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol, answering an unparsable request with problem+json too.

    A request the parser refuses (an over-long URL, a bad header byte) never reaches the
    app; uvicorn's own answer is text/plain.
    """

    def send_400_response(self, msg: str) -> None:
        """The 400 for a request that is not valid HTTP/1.1; the connection is closed."""
        body = problem_body(
            400, f"the request is not valid HTTP/1.1: {msg}", instance="", slug="bad-request"
        )
        head = [
            b"HTTP/1.1 400 Bad Request",
            b"content-type: " + PROBLEM_CONTENT_TYPE.encode(),
            b"content-length: " + str(len(body)).encode(),
            b"x-content-type-options: nosniff",
            b"cache-control: no-store",
            b"connection: close",
        ]
        self.transport.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        self.transport.close()


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Signals are handled once for all listeners by serve(); uvicorn's own handler
        # would be overwritten by each server in turn.
        yield


def uvicorn_config(
    app: ASGIApp, *, shutdown_timeout: float = 15.0, keepalive_timeout: float = 5.0
) -> uvicorn.Config:
    """The uvicorn settings every listener uses (tests' live servers too)."""
    return uvicorn.Config(
        app,
        lifespan="on",
        log_config=None,
        access_log=False,
        http=ProblemHttpToolsProtocol,
        loop="none",
        server_header=False,  # the platform does not advertise its server software
        proxy_headers=False,  # no trusted proxies unless configured
        timeout_keep_alive=int(keepalive_timeout),
        timeout_graceful_shutdown=int(shutdown_timeout),
    )


def bind_socket(service: str, host: str, port: int) -> socket.socket:
    """Bind and listen before anything starts, so a taken port fails fast and clearly."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = "is already in use" if exc.errno == errno.EADDRINUSE else f"failed: {exc.strerror}"
        raise ServeError(f"{service}: binding {host}:{port} {reason}") from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


async def serve(
    listeners: list[Listener],
    *,
    shutdown_timeout: float,
    keepalive_timeout: float,
    on_ready: Callable[[list[Listener]], None] | None = None,
) -> None:
    """Serve every listener until SIGINT/SIGTERM, then drain in-flight requests and return."""
    sockets = []
    try:
        for item in listeners:
            sockets.append(bind_socket(item.service, item.host, item.port))
    except ServeError:
        for sock in sockets:
            sock.close()
        raise
    bound = [
        Listener(item.service, item.app, item.host, sock.getsockname()[1])
        for item, sock in zip(listeners, sockets, strict=True)
    ]
    servers = [
        _Server(
            uvicorn_config(
                item.app, shutdown_timeout=shutdown_timeout, keepalive_timeout=keepalive_timeout
            )
        )
        for item in bound
    ]

    def stop(signum: int) -> None:
        if all(server.should_exit for server in servers):
            log.warning("server.force_exit", signal=signal.Signals(signum).name)
            for server in servers:
                server.force_exit = True
            return
        log.info("server.draining", signal=signal.Signals(signum).name)
        for item, server in zip(bound, servers, strict=True):
            platform_state(item.app).draining = True
            server.should_exit = True

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop, sig)
    tasks = [
        asyncio.create_task(_run(server, sock, item.service))
        for server, sock, item in zip(servers, sockets, bound, strict=True)
    ]
    try:
        await _wait_started(servers, tasks)
        # Everything allocated at start-up lives for the whole process; moving it out of the
        # collector's view keeps full collections (tens of ms) out of the latency tail.
        gc.collect()
        gc.freeze()
        log.info("server.started", listeners={i.service: i.url for i in bound})
        if on_ready is not None:
            on_ready(bound)
        await asyncio.gather(*tasks)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
        for sock in sockets:
            sock.close()
    log.info("server.stopped")


async def _run(server: uvicorn.Server, sock: socket.socket, service: str) -> None:
    try:
        await server.serve(sockets=[sock])
    except SystemExit as exc:
        # uvicorn exits the process when an app's startup fails; report it instead.
        raise ServeError(f"{service}: startup failed (exit {exc.code})") from None


async def _wait_started(servers: list[_Server], tasks: list[asyncio.Task[None]]) -> None:
    while not all(server.started for server in servers):
        done = [task for task in tasks if task.done()]
        for task in done:
            task.result()
        if done:
            raise ServeError("a listener stopped during startup")
        await asyncio.sleep(0.01)


def run(main: Coroutine[Any, Any, _T]) -> _T:
    """Run MAIN on uvloop when it is installed, else on asyncio's default loop; its result."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)
