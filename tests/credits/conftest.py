"""Fixtures for the credits tests: run a ledger service inside one event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import httpx
import orjson
import pytest

from shieldx.credits.ledger.ids import new_id
from shieldx.credits.ledger.service import CreditsService, Idempotency, fingerprint
from shieldx.platform.context import PlatformContext

T = TypeVar("T")
Scenario = Callable[[CreditsService], Awaitable[T]]


class Clock:
    """A clock the test moves by hand (microseconds)."""

    def __init__(self, start: int = 1_700_000_000_000_000) -> None:
        self.now = start

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1_000_000)


def idem(op: str = "op", **payload: Any) -> Idempotency:
    """A fresh idempotency key for one command."""
    return Idempotency(new_id("k"), fingerprint(op, "t", payload))


def run_service(
    ctx: PlatformContext, scenario: Scenario[T], *, clock: Clock | None = None, **kwargs: Any
) -> T:
    """Start a CreditsService on CTX, run SCENARIO, stop it, return what it returned."""

    async def main() -> T:
        service = CreditsService(ctx, clock=clock or Clock(), **kwargs)
        await service.start()
        try:
            return await scenario(service)
        finally:
            await service.stop()

    return asyncio.run(main())


@pytest.fixture
def clock() -> Clock:
    """A hand-driven clock."""
    return Clock()


class Api:
    """A credits app served over loopback HTTP, with keys for two tenants and an admin."""

    def __init__(self, base: str, keys: dict[str, str], component: Any) -> None:
        self.base = base
        self.keys = keys
        self.component = component
        self.http = httpx.Client(base_url=base, timeout=30)

    def post(
        self, path: str, body: dict[str, Any], *, as_: str = "a", key: str | None = "auto"
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.keys[as_]}"}
        if key == "auto":
            key = new_id("k")
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.http.post(path, json=body, headers=headers)

    def get(self, path: str, *, as_: str = "a", **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.keys[as_]}"}
        return self.http.get(path, params=params, headers=headers)


@contextmanager
def serve_credits(ctx: PlatformContext, *, clock: Callable[[], int] | None = None) -> Iterator[Api]:
    """The credits app on a live loopback server: tenant-scoped operator keys 'a' and 'b', a
    tenant-a metering key 'svc-a' (service role: may not buy), 'admin', 'auditor'."""
    from prometheus_client import CollectorRegistry

    from shieldx.credits.component import build_component
    from shieldx.credits.ledger.ids import now_us
    from shieldx.platform.app import create_app
    from shieldx.platform.roles import Role
    from shieldx.testing.live import LiveServer

    holder: dict[str, Any] = {}

    def factory(c: PlatformContext, registry: CollectorRegistry) -> Any:
        holder["component"] = build_component(c, registry, clock=clock or now_us)
        return holder["component"]

    keys = {
        "a": ctx.api_keys.create(role=Role.OPERATOR, tenant="tenant-a")[1],
        "b": ctx.api_keys.create(role=Role.OPERATOR, tenant="tenant-b")[1],
        "svc-a": ctx.api_keys.create(role=Role.SERVICE, tenant="tenant-a")[1],
        "admin": ctx.api_keys.create(role=Role.ADMIN)[1],
        "auditor": ctx.api_keys.create(role=Role.AUDITOR)[1],
    }
    app = create_app(ctx, "credits", factory)
    with LiveServer(app) as server:
        api = Api(server.url, keys, holder["component"])
        try:
            yield api
        finally:
            api.http.close()


class RawConnection:
    """One keep-alive HTTP/1.1 connection on asyncio streams (httpx's pool is too slow for
    hundreds of concurrent connections in one test process)."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port, self.token = host, port, token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: dict[str, Any], key: str) -> tuple[int, dict[str, Any]]:
        """POST a JSON body; (status, parsed JSON answer)."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        payload = orjson.dumps(body)
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {self.token}\r\n"
            f"Idempotency-Key: {key}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n"
        )
        self.writer.write(head.encode() + payload)
        assert self.reader is not None
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        data = await self.reader.readexactly(length)
        return int(status_line.split()[1]), orjson.loads(data)

    async def close(self) -> None:
        """Close the connection."""
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
