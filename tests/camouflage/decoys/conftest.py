"""Fixtures for the decoy tests: decoys on a background event loop, real nginx/apache, tools."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvloop

from shieldx.camouflage.decoys import DecoyExchange, DecoyOptions, DecoyServer

from . import realservers
from .corpus import CORPUS, normalize
from .wire import Exchange, exchange_all, wait_until

T = TypeVar("T")
#: The Last-Modified both real servers' default pages get (the templates say the same).
PAGE_MTIME = 1700000000


def require_tool(path: str, package: str) -> None:
    """Skip (or, under CI=true, fail) when a tool the test drives is not installed."""
    if Path(path).exists() or shutil.which(path):
        return
    message = (
        f"{path} is not installed: apt-get install {package} "
        "(or run scripts/install-system-deps as root)"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


class Recorder:
    """A thread-safe exchange observer the tests can wait on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.exchanges: list[DecoyExchange] = []

    def __call__(self, exchange: DecoyExchange) -> None:
        with self._lock:
            self.exchanges.append(exchange)

    def wait_for(self, count: int, deadline_s: float = 5.0) -> list[DecoyExchange]:
        """Wait until at least ``count`` exchanges were recorded; return them."""
        assert wait_until(lambda: len(self.exchanges) >= count, deadline_s), self.exchanges
        with self._lock:
            return list(self.exchanges)


class DecoyHost:
    """Runs decoys on a uvloop event loop in a background thread (tests use blocking sockets)."""

    def __init__(self) -> None:
        self.loop = uvloop.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.servers: list[DecoyServer] = []

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the decoys' loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def start(self, template: str, name: str = "test", **options: Any) -> DecoyServer:
        """Start a decoy on an ephemeral loopback port."""
        server = DecoyServer(name=name, template=template, options=DecoyOptions(**options))
        self.call(server.start())
        self.servers.append(server)
        return server

    def stop(self, server: DecoyServer) -> None:
        """Stop one decoy."""
        self.call(server.stop())
        self.servers.remove(server)

    def close(self) -> None:
        """Stop every decoy and the loop."""
        for server in list(self.servers):
            self.stop(server)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture(scope="session")
def decoy_host() -> Iterator[DecoyHost]:
    """The background loop every decoy test shares."""
    host = DecoyHost()
    yield host
    host.close()


@pytest.fixture
def recorder() -> Recorder:
    """A fresh exchange observer."""
    return Recorder()


def _real(start: Any, prefix: str) -> Iterator[realservers.RealServer]:
    # Not under pytest's 0700 temp tree: the servers' www-data workers must read the pages.
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        server = start(Path(tmp), mtime=PAGE_MTIME)
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="session")
def real_nginx() -> Iterator[realservers.RealServer]:
    """Debian's nginx, configured as shipped, on a loopback port."""
    require_tool(str(realservers.NGINX), "nginx-light")
    yield from _real(realservers.start_nginx, "shieldx-nginx-")


@pytest.fixture(scope="session")
def real_apache() -> Iterator[realservers.RealServer]:
    """Debian's apache2, configured as shipped, on a loopback port."""
    require_tool(str(realservers.APACHE), "apache2")
    yield from _real(realservers.start_apache, "shieldx-apache-")


Answers = tuple[dict[str, Exchange], dict[str, Exchange]]


def corpus_answers(
    host: DecoyHost, real_port: int, template: str, **options: Any
) -> Iterator[Answers]:
    """Every corpus request answered by a real server and by a decoy of its template."""
    decoy = host.start(
        template, name="compare", header_timeout=realservers.HEADER_TIMEOUT_S, **options
    )
    try:
        yield exchange_all(real_port, CORPUS), exchange_all(decoy.port, CORPUS)
    finally:
        host.stop(decoy)


def assert_same_answer(answers: Answers, name: str) -> None:
    """The decoy sent the real server's bytes (Date aside) and closed when it did."""
    real, decoy = answers
    assert normalize(decoy[name].data) == normalize(real[name].data)
    assert decoy[name].closed == real[name].closed


def running(host: DecoyHost, template: str, **options: Any) -> Iterator[DecoyServer]:
    """A decoy that lives as long as the fixture that yields from this."""
    server = host.start(template, name=template, **options)
    try:
        yield server
    finally:
        host.stop(server)
