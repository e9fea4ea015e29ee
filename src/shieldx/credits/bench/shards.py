"""`shieldx bench shards`: the sharded ledger against the unsharded one, in the same run.

For 1, 2 and 4 shards: the credits bench's mix (consume, reserve, commit) from CONCURRENCY
coroutines through the service layer, on fresh databases (one shard is the plain
CreditsService on one database: the reference). All shards share this machine's cores, so
aggregate / single-shard writes is the routing overhead, not the scale-out (see
docs/performance.md). Then cross-shard transfers (two-phase, on the largest layout), ring
lookups, and the rebalance figures (zero: online rebalancing is not built).
"""

from __future__ import annotations

import asyncio
import gc
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from prometheus_client import CollectorRegistry

from shieldx.config import load_settings
from shieldx.credits.bench.runner import (
    TENANT,
    _idem,
    _load,
    _percentile,
    _seed,
    postgres_server,
    scratch_postgres,
)
from shieldx.credits.ledger.service import CreditsService
from shieldx.credits.shards.domain import Ring
from shieldx.credits.shards.service import ShardedCreditsService, open_front
from shieldx.platform import migrations
from shieldx.platform.bench import machine
from shieldx.platform.context import PlatformContext, build_context
from shieldx.platform.server import run as run_loop

LAYOUTS = (1, 2, 4)


def _context(data_dir: Path, urls: list[str] | None, shards: int) -> PlatformContext:
    """A migrated coordinator context for SHARDS shards (URLS: coordinator, then shards)."""
    overrides: dict[str, Any] = {"data_dir": str(data_dir), "logging": {"level": "warning"}}
    overrides["database"] = {"pool_size": 20}
    sharding: dict[str, Any] = {"num_shards": shards}
    if urls is not None:
        overrides["database"]["url"] = urls[0]
        if shards > 1:
            sharding = {
                "shards": [{"name": f"shard-{i}", "url": u} for i, u in enumerate(urls[1:])]
            }
    overrides["sharding"] = sharding
    ctx = build_context(load_settings(None, environ={}, overrides=overrides))
    migrations.upgrade(ctx.db)
    return ctx


def _ledger(ctx: PlatformContext, shards: int) -> CreditsService:
    if shards == 1:
        return CreditsService(ctx)
    return open_front(ctx, CollectorRegistry())


async def _writes(
    ctx: PlatformContext, shards: int, accounts: int, concurrency: int, duration: float
) -> dict[str, Any]:
    service = _ledger(ctx, shards)
    await service.start()
    try:
        await _seed(service, accounts)
        await _load(service, accounts, concurrency, min(1.0, duration / 5))  # warm-up
        gc.collect()
        started = time.perf_counter()
        ops, latencies = await _load(service, accounts, concurrency, duration)
        elapsed = time.perf_counter() - started
        transfers = (
            await _transfers(service, accounts, concurrency, duration)
            if isinstance(service, ShardedCreditsService) and shards == LAYOUTS[-1]
            else {}
        )
    finally:
        await service.stop()
    return {
        "shards": shards,
        "writes_per_s": round(ops / elapsed),
        "p50_ms": round(_percentile(latencies, 0.50), 2),
        "p99_ms": round(_percentile(latencies, 0.99), 2),
        **transfers,
    }


async def _transfers(
    service: ShardedCreditsService, accounts: int, concurrency: int, duration: float
) -> dict[str, Any]:
    """Cross-shard transfers between random pairs of accounts on different shards."""
    latencies: list[float] = []
    stop_at = time.perf_counter() + max(1.0, duration / 2)
    ring = service.ring

    async def caller(seed: int) -> None:
        rng = random.Random(seed)
        while time.perf_counter() < stop_at:
            source, target = (f"acct-{rng.randrange(accounts)}" for _ in range(2))
            if ring.shard_of(TENANT, source) == ring.shard_of(TENANT, target):
                continue
            payload = {"from_account": source, "to_account": target, "amount": 1}
            started = time.perf_counter()
            await service.transfer(
                tenant=TENANT,
                from_account=source,
                to_account=target,
                amount=1,
                reason="bench",
                idem=_idem("transfer", payload),
            )
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(caller(n) for n in range(max(1, concurrency // 8))))
    return {
        "transfers": len(latencies),
        "transfer_p50_ms": round(_percentile(latencies, 0.50), 2),
        "transfer_p99_ms": round(_percentile(latencies, 0.99), 2),
    }


def lookup_us(shards: int = 4, virtual_nodes: int = 256, lookups: int = 200_000) -> float:
    """Mean time of one ring lookup (CRC32 and a binary search), in microseconds."""
    ring = Ring(tuple(f"shard-{i}" for i in range(shards)), virtual_nodes)
    accounts = [f"acct-{n}" for n in range(1000)]
    shard_of = ring.shard_of
    started = time.perf_counter()
    for n in range(lookups):
        shard_of(TENANT, accounts[n % 1000])
    return (time.perf_counter() - started) / lookups * 1e6


@contextmanager
def _databases(backend: str, url: str | None, count: int) -> Iterator[tuple[list[str] | None, str]]:
    if backend == "sqlite":
        yield None, "SQLite WAL, synchronous=FULL, one file per shard"
        return
    with postgres_server(url) as (server, note), scratch_postgres(server, count) as urls:
        yield urls, note


def run_shards_bench(
    *,
    backend: str,
    accounts: int,
    concurrency: int,
    duration: float,
    database_url: str | None,
    quiet: bool,
) -> dict[str, Any]:
    """Run every layout and print (and return) the JSON report."""
    report: dict[str, Any] = {
        "benchmark": "shards",
        "backend": backend,
        "accounts": accounts,
        "concurrency": concurrency,
        "machine": machine(),
    }
    results = []
    for shards in LAYOUTS:
        if not quiet:
            print(f"{shards} shard(s): {duration:g} s of load", file=sys.stderr)
        with (
            tempfile.TemporaryDirectory(prefix="shieldx-bench-shards-") as tmp,
            _databases(backend, database_url, shards + 1) as (urls, note),
        ):
            report["durability"] = note
            ctx = _context(Path(tmp), urls, shards)
            try:
                results.append(run_loop(_writes(ctx, shards, accounts, concurrency, duration)))
            finally:
                ctx.close()
    largest = results[-1]
    report["results"] = [
        {k: r[k] for k in ("shards", "writes_per_s", "p50_ms", "p99_ms")} for r in results
    ]
    report["overhead_ratio"] = round(
        largest["writes_per_s"] / max(1, results[0]["writes_per_s"]), 3
    )
    report["transfers"] = largest["transfers"]
    report["transfer_p50_ms"] = largest["transfer_p50_ms"]
    report["transfer_p99_ms"] = largest["transfer_p99_ms"]
    report["lookup_us"] = round(lookup_us(), 3)
    report["rebalance"] = {
        "accounts_moved": 0,
        "accounts_per_s": 0,
        "failed_requests": 0,
        "built": False,  # online rebalancing (shieldx shards add/remove) is not built yet
    }
    print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
    return report
