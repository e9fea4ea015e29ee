"""Run one or more service apps on one event loop, one listener each, with graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import signal
import socket
import ssl
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import structlog
import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from shieldx.platform.app import platform_state
from shieldx.platform.errors import PROBLEM_CONTENT_TYPE, problem_body

if TYPE_CHECKING:
    from shieldx.config import ServerSettings, TlsSettings

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
    tls: bool = False

    @property
    def url(self) -> str:
        """The base URL clients use."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"


_TLS_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def tls_context(tls: TlsSettings) -> ssl.SSLContext | None:
    """The server-side SSLContext server.tls describes, or None when TLS is off."""
    if tls.certfile is None or tls.keyfile is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = _TLS_VERSIONS[tls.min_version]
    try:
        context.load_cert_chain(tls.certfile, tls.keyfile)
    except (OSError, ssl.SSLError) as exc:
        raise ServeError(
            f"server.tls: cannot load certificate {tls.certfile} with key {tls.keyfile}: {exc}"
        ) from exc
    if tls.client_ca is not None:
        try:
            context.load_verify_locations(cafile=tls.client_ca)
        except (OSError, ssl.SSLError) as exc:
            raise ServeError(f"server.tls.client_ca: cannot load {tls.client_ca}: {exc}") from exc
        context.verify_mode = ssl.CERT_REQUIRED  # no certificate from that CA, no handshake
    return context


@dataclass
class ConnectionGuard:
    """Connection limits of one process, shared by all its listeners (they share one loop)."""

    header_timeout: float = 10.0
    max_connections: int = 4096
    open: int = 0

    @classmethod
    def from_settings(cls, server: ServerSettings) -> ConnectionGuard:
        """The guard server.header_timeout and server.max_connections describe."""
        return cls(
            header_timeout=server.header_timeout.total_seconds(),
            max_connections=server.max_connections,
        )


def _problem_response(status: bytes, detail: str, slug: str, *extra: bytes) -> bytes:
    body = problem_body(int(status.split()[0]), detail, instance="", slug=slug)
    head = [
        b"HTTP/1.1 " + status,
        b"content-type: " + PROBLEM_CONTENT_TYPE.encode(),
        b"content-length: " + str(len(body)).encode(),
        b"x-content-type-options: nosniff",
        b"cache-control: no-store",
        b"connection: close",
        *extra,
    ]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


class ProblemHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol with problem+json refusals, a header timeout and a cap.

    uvicorn offers neither of the two limits: its keep-alive timer runs only between
    requests (a connection that sends nothing, or half a request head, is never cut), and
    limit_concurrency counts one listener's connections and refuses only a request whose
    head is complete. So the header timer runs from the connection's start and from the
    first byte of each later request until its head is complete (nginx's
    client_header_timeout), and a connection beyond the process-wide cap is answered 503
    and closed at once. A request the parser refuses gets problem+json, not text/plain.
    """

    guard = ConnectionGuard()
    _header_timer: asyncio.TimerHandle | None = None
    _counted = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Count the connection; refuse it over the cap, else start the header timer."""
        super().connection_made(transport)
        guard = self.guard
        guard.open += 1
        self._counted = True
        if guard.open > guard.max_connections:
            log.warning(
                "server.connection_refused", open=guard.open - 1, limit=guard.max_connections
            )
            transport.write(
                _problem_response(
                    b"503 Service Unavailable",
                    f"too many open connections ({guard.max_connections} per process, "
                    "server.max_connections); retry shortly",
                    "too-many-connections",
                    b"retry-after: 1",
                )
            )
            transport.close()
            return
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        """Release the connection's place under the cap."""
        self._disarm_header_timer()
        if self._counted:
            self._counted = False
            self.guard.open -= 1
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        """A later request on a kept-alive connection: its head must arrive in time too."""
        super().on_message_begin()
        if self._header_timer is None:
            self._arm_header_timer()

    def on_headers_complete(self) -> None:
        """The head arrived: no header timeout until the next request begins."""
        self._disarm_header_timer()
        super().on_headers_complete()

    def _arm_header_timer(self) -> None:
        self._header_timer = self.loop.call_later(self.guard.header_timeout, self._header_timed_out)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a response is being written; its end arms the keep-alive timer
        log.info("server.header_timeout", client=self.client[0] if self.client else "")
        self.transport.write(
            _problem_response(
                b"408 Request Timeout",
                f"the request head was not complete within {self.guard.header_timeout:g} s "
                "(server.header_timeout)",
                "request-timeout",
            )
        )
        self.transport.close()

    def send_400_response(self, msg: str) -> None:
        """The 400 for a request that is not valid HTTP/1.1; the connection is closed."""
        self.transport.write(
            _problem_response(
                b"400 Bad Request", f"the request is not valid HTTP/1.1: {msg}", "bad-request"
            )
        )
        self.transport.close()


def guarded_protocol(guard: ConnectionGuard) -> type[ProblemHttpToolsProtocol]:
    """The protocol class whose connections GUARD limits (one guard per process)."""
    return type("GuardedHttpToolsProtocol", (ProblemHttpToolsProtocol,), {"guard": guard})


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Signals are handled once for all listeners by serve(); uvicorn's own handler
        # would be overwritten by each server in turn.
        yield


def uvicorn_config(
    app: ASGIApp,
    *,
    shutdown_timeout: float = 15.0,
    keepalive_timeout: float = 5.0,
    guard: ConnectionGuard | None = None,
    tls: ssl.SSLContext | None = None,
) -> uvicorn.Config:
    """The uvicorn settings every listener uses (tests' live servers too)."""
    factory: Callable[[uvicorn.Config, Callable[[], ssl.SSLContext]], ssl.SSLContext] | None = None
    if tls is not None:
        # uvicorn's own ssl_* options cannot set a minimum protocol version; its context
        # factory hands our ready SSLContext (minimum version, client CA) to every listener.
        def factory(
            _config: uvicorn.Config, _default: Callable[[], ssl.SSLContext]
        ) -> ssl.SSLContext:
            return tls

    return uvicorn.Config(
        app,
        lifespan="on",
        log_config=None,
        access_log=False,
        http=guarded_protocol(guard or ConnectionGuard()),
        loop="none",
        server_header=False,  # the platform does not advertise its server software
        proxy_headers=False,  # no trusted proxies unless configured
        timeout_keep_alive=int(keepalive_timeout),
        timeout_graceful_shutdown=int(shutdown_timeout),
        ssl_context_factory=factory,
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
    guard: ConnectionGuard | None = None,
    on_ready: Callable[[list[Listener]], None] | None = None,
    tls: ssl.SSLContext | None = None,
) -> None:
    """Serve every listener until SIGINT/SIGTERM, then drain in-flight requests and return.

    With TLS every listener of the process speaks it (the decoys have listeners of their own).
    """
    sockets = []
    try:
        for item in listeners:
            sockets.append(bind_socket(item.service, item.host, item.port))
    except ServeError:
        for sock in sockets:
            sock.close()
        raise
    bound = [
        Listener(item.service, item.app, item.host, sock.getsockname()[1], tls is not None)
        for item, sock in zip(listeners, sockets, strict=True)
    ]
    shared = guard or ConnectionGuard()  # one cap for every listener of the process
    servers = [
        _Server(
            uvicorn_config(
                item.app,
                shutdown_timeout=shutdown_timeout,
                keepalive_timeout=keepalive_timeout,
                guard=shared,
                tls=tls,
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
