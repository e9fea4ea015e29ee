"""The fault proxy on real TCP: pass-through, latency, loss, reset, blackhole, self-expiry,
and in front of a real PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import psycopg
import pytest
from sqlalchemy.engine import make_url

from shieldx.chaos.faults.proxy import FaultProxy, ProxyHost, Toxic
from shieldx.platform.postgres_local import ThrowawayPostgres


@asynccontextmanager
async def echo_behind_proxy() -> AsyncIterator[FaultProxy]:
    """An echo server and a proxy in front of it, on free ports."""

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    proxy = FaultProxy("echo", "127.0.0.1", 0, "127.0.0.1", port)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()
        server.close()


async def round_trip(port: int, payload: bytes = b"ping") -> tuple[bytes, float]:
    """Send PAYLOAD through the proxy and read it back; (answer, seconds)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    began = time.perf_counter()
    writer.write(payload)
    await writer.drain()
    answer = await reader.readexactly(len(payload))
    elapsed = time.perf_counter() - began
    writer.close()
    return answer, elapsed


def toxic(kind: str, ttl: float = 30, **params: float) -> Toxic:
    return Toxic(id=f"t-{kind}", kind=kind, expires_at=time.monotonic() + ttl, **params)


def run(test: Callable[[FaultProxy], Awaitable[None]]) -> None:
    async def main() -> None:
        async with echo_behind_proxy() as proxy:
            await test(proxy)

    asyncio.run(main())


def test_pass_through_and_latency_with_jitter() -> None:
    async def check(proxy: FaultProxy) -> None:
        answer, quick = await round_trip(proxy.port)
        assert answer == b"ping" and quick < 0.05
        proxy.add(toxic("latency", latency_ms=60, jitter_ms=10))
        answer, slow = await round_trip(proxy.port)
        # Both directions are delayed: at least 2 x (60 - 10) ms.
        assert answer == b"ping" and slow >= 0.1

    run(check)


def test_loss_delays_chunks_by_a_retransmission_timeout() -> None:
    async def check(proxy: FaultProxy) -> None:
        proxy.add(toxic("loss", percent=100, retransmit_ms=80))
        answer, elapsed = await round_trip(proxy.port)
        assert answer == b"ping" and elapsed >= 0.16

    run(check)


def test_reset_cuts_open_and_new_connections() -> None:
    async def check(proxy: FaultProxy) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"x")
        assert await reader.readexactly(1) == b"x"
        proxy.add(toxic("reset"))
        with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
            await asyncio.wait_for(reader.readexactly(1), 2)
        with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
            await asyncio.wait_for(round_trip(proxy.port), 2)

    run(check)


def test_blackhole_holds_traffic_until_it_expires_by_itself() -> None:
    async def check(proxy: FaultProxy) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"a")
        assert await reader.readexactly(1) == b"a"  # established before the partition
        proxy.add(toxic("blackhole", ttl=0.5))
        began = time.perf_counter()
        # A connection opened during the partition never reaches the upstream ...
        late_reader, late_writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        late_writer.write(b"lost")
        writer.write(b"b")
        # ... while the established one is held, then delivered once the fault expires by
        # itself (nobody removes it), as TCP retransmission would after a healed partition.
        assert await asyncio.wait_for(reader.readexactly(1), 5) == b"b"
        assert time.perf_counter() - began >= 0.45
        assert proxy.live() == []
        # The late connection's bytes were swallowed: it is reset rather than resumed.
        with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
            await asyncio.wait_for(late_reader.readexactly(4), 5)
        writer.close()
        late_writer.close()

    run(check)


def test_bandwidth_cap() -> None:
    async def check(proxy: FaultProxy) -> None:
        proxy.add(toxic("bandwidth", kbps=800))  # 100 kB/s
        answer, elapsed = await round_trip(proxy.port, b"x" * 20_000)
        assert len(answer) == 20_000 and elapsed >= 0.2

    run(check)


@pytest.mark.postgres
def test_latency_on_a_real_postgresql_path(pg_cluster: ThrowawayPostgres) -> None:
    url = make_url(pg_cluster.create_database("chaos_proxy"))
    proxy = FaultProxy("database", "127.0.0.1", 0, url.host or "127.0.0.1", url.port or 5432)
    host = ProxyHost({"database": proxy})
    host.start()
    try:
        dsn = url.set(drivername="postgresql", port=host.call(lambda: proxy.port))
        with psycopg.connect(dsn.render_as_string(hide_password=False)) as conn:
            began = time.perf_counter()
            conn.execute("SELECT 1").fetchone()
            quick = time.perf_counter() - began
            host.call(lambda: proxy.add(toxic("latency", latency_ms=100)))
            began = time.perf_counter()
            conn.execute("SELECT 1").fetchone()
            slow = time.perf_counter() - began
            host.call(lambda: proxy.remove("t-latency"))
            began = time.perf_counter()
            assert conn.execute("SELECT 2").fetchone() == (2,)
            after = time.perf_counter() - began
        assert quick < 0.1 and slow >= 0.2 and after < 0.1
    finally:
        host.stop()
        pg_cluster.drop_database("chaos_proxy")
