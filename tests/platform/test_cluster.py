"""Replicas that behave as one through Redis (the server at 127.0.0.1:6379, a fresh key prefix
per test): shared token buckets, the event bus bridged between processes, and two real
`shieldx serve` processes on one PostgreSQL database behind a real nginx load balancer."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from shieldx.platform.bus import EventBus
from shieldx.platform.cluster import (
    ClusterSettings,
    RedisBusBridge,
    RedisRateLimiter,
    redis_client,
)
from shieldx.platform.loadgen import free_port, spawn_server
from shieldx.testing.fixtures import need_tool

REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test alone; its keys are deleted afterwards."""
    name = f"shieldx-test:{secrets.token_hex(6)}:"
    yield name

    async def clean() -> None:
        client = redis_client(ClusterSettings.model_validate({"redis_url": REDIS}))
        try:
            async for key in client.scan_iter(match=name + "*"):
                await client.delete(key)
        finally:
            await client.aclose()

    asyncio.run(clean())


def _settings() -> ClusterSettings:
    return ClusterSettings.model_validate({"redis_url": REDIS})


def test_two_limiters_share_one_bucket(prefix: str) -> None:
    async def main() -> list[float]:
        a, b = redis_client(_settings()), redis_client(_settings())
        try:
            first = RedisRateLimiter(a, prefix=prefix, rate=0.001, burst=5)
            second = RedisRateLimiter(b, prefix=prefix, rate=0.001, burst=5)
            return [await (first if i % 2 else second).acquire("key-1") for i in range(10)]
        finally:
            await a.aclose()
            await b.aclose()

    waits = asyncio.run(main())
    assert [w == 0 for w in waits] == [True] * 5 + [False] * 5
    assert all(w > 900 for w in waits[5:])  # a token every 1000 s


def test_an_unreachable_redis_falls_back_to_the_local_bucket(prefix: str) -> None:
    async def main() -> list[float]:
        client = redis_client(ClusterSettings.model_validate({"redis_url": "redis://127.0.0.1:1"}))
        try:
            limiter = RedisRateLimiter(client, prefix=prefix, rate=0.001, burst=3)
            return [await limiter.acquire("k") for _ in range(5)]
        finally:
            await client.aclose()

    waits = asyncio.run(main())
    assert [w == 0 for w in waits] == [True, True, True, False, False]


def test_the_bus_reaches_the_other_replica_once(prefix: str) -> None:
    heard: dict[str, list[tuple[str, Mapping[str, Any]]]] = {"a": [], "b": [], "b-all": []}

    async def main() -> None:
        buses = {"a": EventBus(), "b": EventBus()}
        clients = [redis_client(_settings()), redis_client(_settings())]
        bridges = [
            RedisBusBridge(client, bus, prefix=prefix)
            for client, bus in zip(clients, buses.values(), strict=True)
        ]
        arrived = asyncio.Event()

        def listener(name: str) -> Callable[[str, Mapping[str, Any]], None]:
            def hear(topic: str, payload: Mapping[str, Any]) -> None:
                heard[name].append((topic, payload))
                if name == "b":
                    arrived.set()

            return hear

        for name, bus in buses.items():
            bus.subscribe("honeytoken.used", listener(name))
        buses["b"].subscribe_all(listener("b-all"))
        for bridge in bridges:
            bridge.bus.forwarders.append(bridge.forward)
            await bridge.start()
        await asyncio.wait_for(
            asyncio.gather(*(bridge.ready.wait() for bridge in bridges)), timeout=10
        )
        buses["a"].publish("honeytoken.used", {"use_id": 7, "source": "203.0.113.9"})
        await asyncio.wait_for(arrived.wait(), timeout=10)
        for bridge in bridges:
            await bridge.stop()
        for client in clients:
            await client.aclose()

    asyncio.run(main())
    assert heard["a"] == [("honeytoken.used", {"use_id": 7, "source": "203.0.113.9"})]
    assert heard["b"] == [("honeytoken.used", {"use_id": 7, "source": "203.0.113.9"})]
    assert heard["b-all"] == []  # the SIEM exporter of replica b does not export it again


def _nginx(binary: str, root: Path, port: int, upstreams: list[str]) -> subprocess.Popen[bytes]:
    servers = "".join(f"    server {u};\n" for u in upstreams)
    conf = root / "nginx.conf"
    conf.write_text(
        f"daemon off;\npid {root}/nginx.pid;\nerror_log {root}/error.log warn;\n"
        "worker_processes 1;\nevents { worker_connections 256; }\n"
        "http {\n  access_log off;\n"
        f"  client_body_temp_path {root}/body;\n  proxy_temp_path {root}/proxy;\n"
        f"  fastcgi_temp_path {root}/fastcgi;\n  uwsgi_temp_path {root}/uwsgi;\n"
        f"  scgi_temp_path {root}/scgi;\n"
        f"  upstream shieldx {{\n{servers}  }}\n"
        f"  server {{\n    listen 127.0.0.1:{port};\n"
        "    location / {\n      proxy_pass http://shieldx;\n"
        "      proxy_set_header X-Request-ID $request_id;\n    }\n  }\n}\n"
    )
    proc = subprocess.Popen([binary, "-c", str(conf), "-p", str(root)])
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            return proc
        except httpx.HTTPError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((root / "error.log").read_text()) from None
            time.sleep(0.05)


def test_two_replicas_behind_nginx_share_limits_and_revocations(
    postgres_url: str, prefix: str, tmp_path: Path
) -> None:
    nginx = need_tool("nginx", "nginx-light")
    admin = "shx_cluster_" + secrets.token_urlsafe(24)
    env = {
        "SHIELDX_DATABASE_URL": postgres_url,
        "SHIELDX_CLUSTER_REDIS_URL": REDIS,
        "SHIELDX_CLUSTER_KEY_PREFIX": prefix,
        "SHIELDX_SECURITY_RATE_LIMIT_KEY_RATE": "0.01",
        "SHIELDX_SECURITY_RATE_LIMIT_KEY_BURST": "8",
        "SHIELDX_SECURITY_API_KEY_CACHE": "1s",
        "SHIELDX_LOGGING_LEVEL": "warning",
    }

    def serve(name: str) -> Any:
        args = ["serve", "locator", "--port", str(free_port())]
        # One data directory: the replicas share its encryption key file (as a Secret would).
        return spawn_server(args, data_dir=tmp_path / "data", admin_key=admin, env=env)

    with serve("a") as a, serve("b") as b:
        replicas = [a.urls["locator"], b.urls["locator"]]
        port = free_port()
        upstreams = [u.removeprefix("http://") for u in replicas]
        (tmp_path / "nginx").mkdir()
        balancer = _nginx(nginx, tmp_path / "nginx", port, upstreams)
        try:
            lb = f"http://127.0.0.1:{port}"
            made = httpx.post(
                lb + "/admin/keys",
                json={"role": "operator", "tenant": "acme", "name": "limited"},
                headers={"Authorization": f"Bearer {admin}"},
            )
            assert made.status_code == 201, made.text
            key, key_id = made.json()["key"], made.json()["id"]
            auth = {"Authorization": f"Bearer {key}"}
            statuses = [httpx.get(lb + "/whoami", headers=auth).status_code for _ in range(24)]
            # Eight tokens for the key across both replicas (one replica alone would allow 8
            # of its 12, both together 16 without the shared bucket).
            assert statuses.count(200) == 8, statuses
            assert statuses.count(429) == 16
            revoked = httpx.delete(
                f"{lb}/admin/keys/{key_id}", headers={"Authorization": f"Bearer {admin}"}
            )
            assert revoked.status_code in (200, 204), revoked.text
            for replica in replicas:  # each drops its cached answer within api_key_cache
                deadline = time.monotonic() + 30
                while httpx.get(replica + "/whoami", headers=auth).status_code != 401:
                    assert time.monotonic() < deadline, f"{replica} still accepts a revoked key"
                    time.sleep(0.1)
        finally:
            balancer.terminate()
            balancer.wait(timeout=20)


def test_only_subscribed_topics_cross_to_other_replicas() -> None:
    bus = EventBus()
    forwarded: list[str] = []
    exported: list[str] = []
    bus.forwarders.append(lambda topic, _payload: forwarded.append(topic))
    bus.subscribe_all(lambda topic, _payload: exported.append(topic))
    bus.subscribe("honeytoken.used", lambda _topic, _payload: None)
    bus.publish("camouflage.request", {"path": "/"})  # the SIEM's alone: stays on this replica
    bus.publish("honeytoken.used", {"use_id": 1})
    assert exported == ["camouflage.request", "honeytoken.used"]
    assert forwarded == ["honeytoken.used"]
    assert bus.deliver_remote("honeytoken.used", {"use_id": 2}) == 1
    assert exported == ["camouflage.request", "honeytoken.used"]  # remote events are not exported
