"""`shieldx bench credits`: group-commit throughput and latency, replay speed, HTTP consume rate.

In-process: CONCURRENCY coroutines call the service layer (idempotency keys and request
fingerprints included, as the API computes them) with a mix of consume, reserve and commit
over ACCOUNTS accounts, on a durable database. Replay: every event read back and folded
into balances (the projection rebuild's inner loop), and into full account aggregates.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import random
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from shieldx.credits.ledger.domain import Account
from shieldx.credits.ledger.service import CreditsService, Idempotency, fingerprint
from shieldx.credits.projections.replay import fold_balances, read_for_fold, read_streams
from shieldx.credits.projections.runner import rebuild
from shieldx.credits.store.backends import create_store
from shieldx.credits.store.base import EventStore
from shieldx.credits.store.records import AccountKey, StreamLoad
from shieldx.credits.writer.accounts import rebuild_account
from shieldx.platform import migrations
from shieldx.platform.bench import machine
from shieldx.platform.context import PlatformContext, build_context
from shieldx.platform.server import run as run_loop  # uvloop, as the server runs

TENANT = "bench"
LOCAL_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SEED = 10**12


_keys = itertools.count()
_RUN = secrets.token_hex(4)


def _idem(op: str, payload: dict[str, Any]) -> Idempotency:
    # A client makes its keys; a counter keeps the client's cost out of the measurement.
    return Idempotency(f"{_RUN}-{next(_keys)}", fingerprint(op, TENANT, payload))


async def _seed(service: CreditsService, accounts: int) -> None:
    for start in range(0, accounts, 1000):
        await asyncio.gather(
            *(
                service.purchase(
                    tenant=TENANT,
                    account_id=f"acct-{n}",
                    amount=SEED,
                    grant_type="paid",
                    priority=100,
                    expires_at=None,
                    payment=None,
                    idem=_idem("purchase", {"account_id": f"acct-{n}"}),
                )
                for n in range(start, min(start + 1000, accounts))
            )
        )


async def _load(
    service: CreditsService, accounts: int, concurrency: int, seconds: float
) -> tuple[int, list[float]]:
    latencies: list[float] = []
    done = 0
    stop_at = time.perf_counter() + seconds

    async def caller(seed: int) -> None:
        nonlocal done
        rng = random.Random(seed)
        step = 0
        hold: str | None = None
        while time.perf_counter() < stop_at:
            account = f"acct-{rng.randrange(accounts)}"
            started = time.perf_counter()
            if step % 4 == 3 and hold is not None:
                payload: dict[str, Any] = {"reservation_id": hold}
                await service.commit(
                    tenant=TENANT, reservation_id=hold, amount=None, idem=_idem("commit", payload)
                )
                hold = None
            elif step % 4 == 2:
                payload = {"account_id": account, "amount": 3, "ttl_seconds": 300}
                answer = await service.reserve(
                    tenant=TENANT,
                    account_id=account,
                    amount=3,
                    ttl_seconds=300,
                    reason="bench",
                    idem=_idem("reserve", payload),
                )
                hold = orjson.loads(answer.body)["reservation_id"]
            else:
                payload = {"account_id": account, "amount": 1, "reason": "bench"}
                await service.consume(
                    tenant=TENANT,
                    account_id=account,
                    amount=1,
                    reason="bench",
                    idem=_idem("consume", payload),
                )
            latencies.append(time.perf_counter() - started)
            done += 1
            step += 1

    await asyncio.gather(*(caller(n) for n in range(concurrency)))
    return done, latencies


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] * 1000 if ordered else 0.0


def measure_replay(store: EventStore) -> dict[str, Any]:
    """Read every event back and fold it into balances (checking each recorded balance), and
    into full account aggregates."""
    started = time.perf_counter()
    rows = read_for_fold(store)
    read_s = time.perf_counter() - started
    started = time.perf_counter()
    folded = fold_balances(rows)
    fold_s = time.perf_counter() - started
    streams: dict[AccountKey, list[Any]] = {}
    started = time.perf_counter()
    for tenant, account_id, version, type_, amount, reason, tx, data, balance, held in read_streams(
        store
    ):
        streams.setdefault((tenant, account_id), []).append(
            (version, type_, amount, reason, tx, data, balance, held)
        )
    accounts: dict[AccountKey, Account] = {
        key: rebuild_account(key, StreamLoad(0, None, events)) for key, events in streams.items()
    }
    aggregate_s = time.perf_counter() - started
    assert len(accounts) == len(streams) == len(folded)
    events = len(rows)
    return {
        "events": events,
        "replay_events_per_s": round(events / (read_s + fold_s)) if events else 0,
        "replay_fold_only_events_per_s": round(events / fold_s) if fold_s else 0,
        "replay_accounts_events_per_s": round(events / aggregate_s) if aggregate_s else 0,
        "read_events_per_s": round(events / read_s) if read_s else 0,
    }


@contextmanager
def postgres_server(url: str | None) -> Iterator[tuple[str, str]]:
    """(URL of a PostgreSQL server's maintenance database, a note on durability): URL, the
    local server, or a throwaway cluster started for the run."""
    import psycopg

    from shieldx.platform.postgres_local import PostgresUnavailable, ThrowawayPostgres

    server = url or LOCAL_POSTGRES
    cluster = None
    try:
        psycopg.connect(server.replace("+psycopg", ""), connect_timeout=3).close()
        note = "local PostgreSQL server (its own fsync/synchronous_commit settings)"
    except psycopg.OperationalError:
        try:
            cluster = ThrowawayPostgres()
        except PostgresUnavailable as exc:
            raise SystemExit(f"error: no PostgreSQL reachable at {server} ({exc})") from None
        cluster.start()
        server = cluster.url()
        note = "throwaway PostgreSQL cluster with fsync=off (not durable)"
    try:
        yield server, note
    finally:
        if cluster is not None:
            cluster.stop()


@contextmanager
def scratch_postgres(server: str, count: int) -> Iterator[list[str]]:
    """COUNT fresh databases on SERVER (their URLs), dropped afterwards."""
    import psycopg
    from psycopg import sql

    names = [f"shieldx_bench_{secrets.token_hex(4)}" for _ in range(count)]
    admin = server.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield [server.rsplit("/", 1)[0] + "/" + name for name in names]
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            for name in names:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


@contextmanager
def scratch_database(backend: str, url: str | None) -> Iterator[tuple[str | None, str]]:
    """(database URL or None for the SQLite file, a note on durability)."""
    if backend == "sqlite":
        yield None, "SQLite WAL, synchronous=FULL: every acknowledged commit is fsynced"
        return
    with postgres_server(url) as (server, note), scratch_postgres(server, 1) as urls:
        yield urls[0], note


def _context(data_dir: Path, url: str | None) -> PlatformContext:
    from shieldx.config import load_settings

    # Defaults and a private data dir; the environment is not read (a bench is reproducible).
    overrides: dict[str, Any] = {"data_dir": str(data_dir), "logging": {"level": "warning"}}
    overrides["database"] = {"pool_size": 20} | ({"url": url} if url is not None else {})
    ctx = build_context(load_settings(None, environ={}, overrides=overrides))
    migrations.upgrade(ctx.db)
    return ctx


async def _in_process(
    ctx: PlatformContext, accounts: int, concurrency: int, duration: float
) -> dict[str, Any]:
    service = CreditsService(ctx)
    await service.start()
    try:
        await _seed(service, accounts)
        await _load(service, accounts, concurrency, min(2.0, duration / 5))  # warm-up
        gc.collect()
        gc.freeze()  # as `shieldx serve` does after start-up
        before = service.writer.stats.commands, service.writer.stats.batches
        started = time.perf_counter()
        ops, latencies = await _load(service, accounts, concurrency, duration)
        elapsed = time.perf_counter() - started
        commands = service.writer.stats.commands - before[0]
        batches = max(1, service.writer.stats.batches - before[1])
    finally:
        await service.stop()
    return {
        "ops": ops,
        "seconds": round(elapsed, 2),
        "ops_per_s": round(ops / elapsed),
        "p50_ms": round(_percentile(latencies, 0.50), 2),
        "p99_ms": round(_percentile(latencies, 0.99), 2),
        "mean_batch": round(commands / batches, 1),
        "mix": "50% consume, 25% reserve, 25% commit",
    }


def run_bench(
    *,
    backend: str,
    http: bool,
    accounts: int,
    concurrency: int,
    duration: float,
    connections: int,
    database_url: str | None,
    quiet: bool,
) -> None:
    """Run the benchmark and print its JSON report."""
    report: dict[str, Any] = {
        "benchmark": "credits",
        "backend": backend,
        "accounts": accounts,
        "machine": machine(),
    }
    with (
        tempfile.TemporaryDirectory(prefix="shieldx-bench-credits-") as tmp,
        scratch_database(backend, database_url) as (url, note),
    ):
        report["durability"] = note
        ctx = _context(Path(tmp), url)
        try:
            if http:
                from shieldx.credits.bench.http import http_consume

                run_loop(_seed_only(ctx, accounts))
                report.update(
                    http_consume(
                        data_dir=Path(tmp),
                        url=url,
                        accounts=accounts,
                        connections=connections,
                        duration=duration,
                        quiet=quiet,
                    )
                )
                report["concurrency"] = connections
            else:
                if not quiet:
                    print(
                        f"loading {accounts} accounts, then {duration:g} s of load", file=sys.stderr
                    )
                report.update(run_loop(_in_process(ctx, accounts, concurrency, duration)))
                report["concurrency"] = concurrency
            store = create_store(ctx.db)
            report.update(measure_replay(store))
            rebuilt = rebuild(store)
            report["rebuild_projections_events_per_s"] = round(rebuilt.events / rebuilt.seconds)
        finally:
            ctx.close()
    print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())


async def _seed_only(ctx: PlatformContext, accounts: int) -> None:
    service = CreditsService(ctx)
    await service.start()
    try:
        await _seed(service, accounts)
    finally:
        await service.stop()
