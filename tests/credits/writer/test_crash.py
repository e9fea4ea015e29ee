"""Crash safety: `shieldx serve credits` killed with SIGKILL under load, then restarted.

Every request that got a 2xx must be in the command log and the event store, its key must
replay the same answer, nothing may be half applied, the chain must verify and the read
models must equal a rebuild from the events.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import signal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from shieldx.credits import tables
from shieldx.credits.audit import verify as audit
from shieldx.credits.ledger.ids import new_id
from shieldx.credits.projections.runner import ProjectionRunner, rebuild
from shieldx.credits.store.backends import create_store
from shieldx.platform.context import build_context
from shieldx.platform.loadgen import free_port, spawn_server
from shieldx.testing.fixtures import settings_for_test

from ..conftest import RawConnection

ACCOUNTS = [f"acct-{n}" for n in range(16)]
Acked = list[tuple[str, str, dict[str, Any], dict[str, Any]]]  # key, path, body, answer


class _Enough(Exception):
    """Enough requests were acknowledged after the kill."""


async def _load(base: str, token: str, pid: int, kill_after: int, *, stop_after: int = 0) -> Acked:
    url = urlsplit(base)
    acked: Acked = []
    killed = asyncio.Event()

    async def send(conn: RawConnection, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        key = new_id("k")
        status, answer = await conn.post(path, body, key)
        # Only the requests in flight when the process died may fail, as unavailable.
        assert status < 500 or (status == 503 and killed.is_set()), answer
        if status >= 300:
            return None
        acked.append((key, path, body, answer))
        if len(acked) == kill_after and not killed.is_set():
            os.kill(pid, signal.SIGKILL)
            killed.set()
        if stop_after and len(acked) >= stop_after:
            raise _Enough
        return answer

    async def client(seed: int) -> None:
        rng = random.Random(seed)
        conn = RawConnection(url.hostname or "", url.port or 80, token)
        try:
            while True:
                account = rng.choice(ACCOUNTS)
                roll = rng.random()
                if roll < 0.1:
                    await send(
                        conn,
                        "/credits/purchase",
                        {"tenant": "t", "account_id": account, "amount": 50},
                    )
                elif roll < 0.7:
                    body = {
                        "tenant": "t",
                        "account_id": account,
                        "amount": rng.randint(1, 3),
                        "reason": "load",
                    }
                    await send(conn, "/credits/consume", body)
                else:
                    body = {"tenant": "t", "account_id": account, "amount": 2, "ttl_seconds": 300}
                    hold = await send(conn, "/credits/reserve", body)
                    if hold is not None:
                        commit = {
                            "tenant": "t",
                            "reservation_id": hold["reservation_id"],
                            "amount": 1,
                        }
                        await send(conn, "/credits/commit", commit)
        except _Enough:
            pass
        except (OSError, asyncio.IncompleteReadError, IndexError, ValueError):
            assert (
                killed.is_set()
            )  # the server died under us: the outcome of this request is unknown
        finally:
            await conn.close()

    await asyncio.wait_for(asyncio.gather(*(client(n) for n in range(24))), 60)
    return acked


async def _replay(base: str, token: str, acked: Acked) -> None:
    url = urlsplit(base)
    conns = [RawConnection(url.hostname or "", url.port or 80, token) for _ in range(8)]

    async def check(conn: RawConnection, items: Acked) -> None:
        for key, path, body, answer in items:
            status, again = await conn.post(path, body, key)
            assert status < 300 and again == answer, (path, again, answer)

    await asyncio.gather(*(check(c, acked[n::8]) for n, c in enumerate(conns)))
    for conn in conns:
        await conn.close()


def test_sigkill_under_load_loses_nothing_acknowledged(backend_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    admin = f"shx_crash_{secrets.token_urlsafe(24)}"
    env = {
        "SHIELDX_SECURITY_RATE_LIMIT_KEY_RATE": "1000000",
        "SHIELDX_SECURITY_RATE_LIMIT_KEY_BURST": "10000000",
        "SHIELDX_LOGGING_LEVEL": "warning",
    }
    if not backend_url.startswith("sqlite"):
        env["SHIELDX_DATABASE_URL"] = backend_url
    args = ["serve", "credits", "--port", str(free_port())]
    with spawn_server(args, data_dir=data_dir, admin_key=admin, env=env) as server:
        base = server.urls["credits"]
        acked = asyncio.run(_load(base, admin, server.process.pid, kill_after=300))
        assert server.process.wait(10) == -signal.SIGKILL
    assert len(acked) >= 300
    with spawn_server(args, data_dir=data_dir, admin_key=admin, env=env) as server:
        asyncio.run(_replay(server.urls["credits"], admin, acked))

    _check_store(data_dir, backend_url, env, acked)


def _commit_process(server_pid: int) -> int:
    """The pid of the credits commit process, a child of SERVER_PID."""
    children = Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split()
    for child in map(int, children):
        if b"shieldx.credits.writer.process" in Path(f"/proc/{child}/cmdline").read_bytes():
            return child
    raise AssertionError(f"no commit process among {children}")


def test_a_killed_commit_process_is_replaced_and_loses_nothing(
    backend_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    admin = f"shx_crash_{secrets.token_urlsafe(24)}"
    env = {
        "SHIELDX_SECURITY_RATE_LIMIT_KEY_RATE": "1000000",
        "SHIELDX_SECURITY_RATE_LIMIT_KEY_BURST": "10000000",
        "SHIELDX_LOGGING_LEVEL": "warning",
    }
    if not backend_url.startswith("sqlite"):
        env["SHIELDX_DATABASE_URL"] = backend_url
    args = ["serve", "credits", "--port", str(free_port())]
    with spawn_server(args, data_dir=data_dir, admin_key=admin, env=env) as server:
        base = server.urls["credits"]
        child = _commit_process(server.process.pid)
        # The service keeps answering after the kill: 600 more acknowledgements must come.
        acked = asyncio.run(_load(base, admin, child, kill_after=300, stop_after=900))
        assert len(acked) >= 900
        assert server.process.poll() is None
        assert _commit_process(server.process.pid) != child
        asyncio.run(_replay(base, admin, acked))
    _check_store(data_dir, backend_url, env, acked)


def _check_store(data_dir: Path, backend_url: str, env: dict[str, str], acked: Acked) -> None:
    settings = (
        settings_for_test(data_dir, database={"url": backend_url})
        if env.get("SHIELDX_DATABASE_URL")
        else settings_for_test(data_dir)
    )
    ctx = build_context(settings)
    try:
        store = create_store(ctx.db)
        assert audit.verify(store).ok
        with ctx.db.read() as conn:
            logged = set(conn.execute(sa.select(tables.command_log.c.idempotency_key)).scalars())
            in_events = set(
                conn.execute(
                    sa.select(tables.event_store.c.idempotency_key).where(
                        tables.event_store.c.idempotency_key.is_not(None)
                    )
                ).scalars()
            )
        assert {key for key, *_ in acked} <= logged
        assert logged == in_events  # no command without its events, no events without their command
        runner = ProjectionRunner(store)
        while runner.catch_up_once():
            pass
        live = _dump(ctx)
        rebuild(store)
        assert _dump(ctx) == live
    finally:
        ctx.close()


def _dump(ctx: Any) -> list[list[tuple[object, ...]]]:
    with ctx.db.read() as conn:
        return [
            sorted(tuple(r) for r in conn.execute(sa.select(t)))
            for t in (tables.balances, tables.history, tables.usage)
        ]
