"""An asyncio TCP proxy that applies faults to the bytes it forwards, like Toxiproxy's toxics.

ShieldX reaches a dependency (PostgreSQL, Redis) through it by pointing the client at the
proxy's address. With no fault applied it forwards unchanged. Each fault carries an expiry
on the monotonic clock and is ignored once it passes, so nothing stays applied if the engine
that added it stalls or dies; if the whole process dies the proxy dies with it and clients
see their connections close.

TCP cannot lose bytes without breaking the stream, so `loss` is modelled as what the
application sees when a segment is lost: that chunk arrives one retransmission timeout late.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import random
import socket
import struct
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

_T = TypeVar("_T")

CHUNK = 65_536


@dataclass(frozen=True)
class Toxic:
    """One fault on a proxy: its kind, parameters and monotonic expiry."""

    id: str
    kind: str  # latency | loss | bandwidth | reset | blackhole
    expires_at: float
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    percent: float = 0.0
    retransmit_ms: float = 200.0
    kbps: float = 0.0

    def alive(self, now: float) -> bool:
        """Whether the fault still applies at monotonic time NOW."""
        return now < self.expires_at


@dataclass(eq=False)  # identity: links live in a set
class _Link:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None


@dataclass
class FaultProxy:
    """Forward LISTEN to UPSTREAM, applying the live toxics to every chunk."""

    name: str
    listen_host: str
    listen_port: int
    upstream_host: str
    upstream_port: int
    toxics: dict[str, Toxic] = field(default_factory=dict)
    _server: asyncio.Server | None = None
    _links: set[_Link] = field(default_factory=set)
    _rng: random.Random = field(default_factory=random.Random)

    @property
    def port(self) -> int:
        """The bound port (useful when listen_port was 0)."""
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        """Start listening."""
        self._server = await asyncio.start_server(
            self._accept, self.listen_host, self.listen_port, reuse_address=True
        )

    async def stop(self) -> None:
        """Stop listening and close every connection."""
        if self._server is not None:
            self._server.close()
        for link in list(self._links):
            _abort(link.client)
            if link.upstream is not None:
                _abort(link.upstream)
        self._links.clear()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    def add(self, toxic: Toxic) -> None:
        """Apply TOXIC; a reset also cuts the connections open now."""
        self.toxics[toxic.id] = toxic
        if toxic.kind == "reset":
            for link in list(self._links):
                _abort(link.client)
                if link.upstream is not None:
                    _abort(link.upstream)

    def remove(self, toxic_id: str) -> bool:
        """Take a toxic off; True if it was there. Ending a blackhole closes held connections."""
        toxic = self.toxics.pop(toxic_id, None)
        if toxic is not None and toxic.kind == "blackhole":
            for link in list(self._links):
                if link.upstream is None:
                    _abort(link.client)
        return toxic is not None

    def live(self) -> list[Toxic]:
        """The toxics that apply now (expired ones are dropped here)."""
        now = time.monotonic()
        for toxic_id in [t.id for t in self.toxics.values() if not t.alive(now)]:
            self.remove(toxic_id)
        return list(self.toxics.values())

    def _has(self, kind: str) -> bool:
        return any(t.kind == kind for t in self.live())

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = _Link(writer)
        self._links.add(link)
        try:
            if self._has("reset"):
                _abort(writer)
                return
            while self._has("blackhole"):
                # Partitioned: accept, never connect upstream, swallow what the client sends.
                with contextlib.suppress(TimeoutError):
                    if not await asyncio.wait_for(reader.read(CHUNK), 0.1) and reader.at_eof():
                        return
            try:
                up_reader, up_writer = await asyncio.open_connection(
                    self.upstream_host, self.upstream_port
                )
            except OSError:
                _abort(writer)
                return
            link.upstream = up_writer
            await asyncio.gather(
                self._pump(reader, up_writer, link), self._pump(up_reader, writer, link)
            )
        finally:
            self._links.discard(link)
            _abort(writer)
            if link.upstream is not None:
                _abort(link.upstream)

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: _Link
    ) -> None:
        try:
            while True:
                data = await reader.read(CHUNK)
                if not data:
                    with contextlib.suppress(OSError):
                        writer.write_eof()
                    return
                await self._apply(data)
                if link not in self._links:
                    return
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            _abort(link.client)
            if link.upstream is not None:
                _abort(link.upstream)

    async def _apply(self, data: bytes) -> None:
        """Delay (or hold) one chunk as the live toxics say."""
        while True:
            toxics = self.live()
            if not any(t.kind == "blackhole" for t in toxics):
                break
            await asyncio.sleep(0.05)  # held until the blackhole ends or expires
        if any(t.kind == "reset" for t in toxics):
            raise ConnectionResetError("reset fault")
        delay = 0.0
        for toxic in toxics:
            if toxic.kind == "latency":
                jitter = self._rng.uniform(-toxic.jitter_ms, toxic.jitter_ms)
                delay += max(0.0, toxic.latency_ms + jitter) / 1000
            elif toxic.kind == "loss" and self._rng.random() * 100 < toxic.percent:
                delay += toxic.retransmit_ms / 1000
            elif toxic.kind == "bandwidth" and toxic.kbps > 0:
                delay += len(data) / (toxic.kbps * 1000 / 8)
        if delay:
            await asyncio.sleep(delay)


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0), as a failed network path would."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()


def split_host_port(value: str) -> tuple[str, int]:
    """('host', port) of a validated 'host:port' string."""
    host, _, port = value.rpartition(":")
    return host, int(port)


class ProxyHost:
    """Runs fault proxies on their own event loop in a daemon thread.

    Their own loop because the service's loop may be the one waiting on the database they
    carry (the credits service connects while it starts, before the chaos component would
    get to open a proxy), and a slow route must not slow the dependency path either.
    """

    def __init__(self, proxies: dict[str, FaultProxy]) -> None:
        self.proxies = proxies
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Bind every proxy and serve them; returns once they listen."""
        if not self.proxies:
            return
        ready = threading.Event()
        failure: list[BaseException] = []

        async def main() -> None:
            try:
                for proxy in self.proxies.values():
                    await proxy.start()
            except BaseException as exc:  # reported to start()'s caller below
                failure.append(exc)
                ready.set()
                return
            self._loop = asyncio.get_running_loop()
            ready.set()
            await asyncio.Event().wait()  # serve until the loop is stopped

        self._thread = threading.Thread(
            target=lambda: _run_quietly(main()), daemon=True, name="chaos-proxies"
        )
        self._thread.start()
        if not ready.wait(timeout):
            raise RuntimeError("chaos proxies did not start in time")
        if failure:
            raise RuntimeError(f"chaos proxy failed to start: {failure[0]}") from failure[0]

    def call(self, fn: Callable[[], _T]) -> _T:
        """Run FN on the proxies' loop and return its result."""
        if self._loop is None:
            return fn()
        future: concurrent.futures.Future[_T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed to the caller's thread
                future.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return future.result(5)

    def stop(self) -> None:
        """Close every proxy and end the thread."""
        loop = self._loop
        if loop is None:
            return
        stopped = asyncio.run_coroutine_threadsafe(self._close(), loop)
        with contextlib.suppress(Exception):
            stopped.result(5)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(5)
        self._loop = None

    async def _close(self) -> None:
        for proxy in self.proxies.values():
            await proxy.stop()


def _run_quietly(coro: Coroutine[Any, Any, None]) -> None:
    with contextlib.suppress(RuntimeError):  # "Event loop stopped before Future completed"
        asyncio.run(coro)
