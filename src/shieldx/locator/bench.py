"""shieldx bench locator: issue and introspection rates next to raw Ed25519, in one run."""

from __future__ import annotations

import asyncio
import itertools
import secrets
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client import CollectorRegistry

from shieldx.config import load_settings
from shieldx.locator.metrics import LocatorMetrics
from shieldx.locator.state.refresh import CoalescedRefresh, Freshness
from shieldx.locator.tokens.caches import VerifiedTokenCache
from shieldx.locator.tokens.domain import INACTIVE_BODY
from shieldx.locator.tokens.service import LocatorService
from shieldx.platform import migrations
from shieldx.platform.bench import machine
from shieldx.platform.context import build_context
from shieldx.platform.loadgen import find_tool, free_port, run_load, spawn_server
from shieldx.platform.logging import configure_logging

TOKEN_POOL = 1000
CONCURRENCY = 64
SLICES = 10
Measure = Callable[[float], tuple[int, float]]


def _count(fn: Callable[[], object], seconds: float) -> tuple[int, float]:
    """Calls of FN done in about SECONDS, and the exact time taken."""
    done = 0
    started = time.perf_counter()
    deadline = started + seconds
    while True:
        for _ in range(64):
            fn()
        done += 64
        now = time.perf_counter()
        if now >= deadline:
            return done, now - started


def _interleaved(measures: dict[str, Measure], seconds: float) -> dict[str, float]:
    """Rates of every measure, taken in alternating slices of the same SECONDS.

    On a machine shared with other work the load changes from second to second;
    alternating short slices keeps each ratio (issue vs raw sign, …) fair.
    """
    totals = {name: [0, 0.0] for name in measures}
    for _ in range(SLICES):
        for name, measure in measures.items():
            done, elapsed = measure(seconds / SLICES)
            totals[name][0] += done
            totals[name][1] += elapsed
    return {name: done / elapsed for name, (done, elapsed) in totals.items()}


async def _introspections(
    service: LocatorService, tokens: list[str], seconds: float
) -> tuple[int, float]:
    """Introspections through the server's path: the freshness check, then verification.

    CONCURRENCY tasks on one event loop, as concurrent requests would be.
    """
    freshness = Freshness(
        CoalescedRefresh(service.fetch_changes, service.apply),
        lambda: service.applied_versions,
        probe=service.version_file,
    )
    deadline = time.perf_counter() + seconds
    counts = [0] * CONCURRENCY

    async def worker(slot: int) -> None:
        for token in itertools.cycle(tokens[slot::CONCURRENCY] or tokens):
            await freshness.ensure_fresh()
            if service.introspect(token) == INACTIVE_BODY:
                raise RuntimeError("a valid token introspected as inactive")
            counts[slot] += 1
            if counts[slot] % 16 == 0:
                if time.perf_counter() >= deadline:
                    return
                await asyncio.sleep(0)  # let the other tasks interleave, as requests do

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(CONCURRENCY)))
    if freshness.refresh.rounds:
        raise RuntimeError("nothing changed, yet a refresh went to the database")
    return sum(counts), time.perf_counter() - started


def _introspect_measure(service: LocatorService, tokens: list[str], *, cached: bool) -> Measure:
    def measure(seconds: float) -> tuple[int, float]:
        if cached:
            return asyncio.run(_introspections(service, tokens, seconds))
        kept, service.cache = service.cache, VerifiedTokenCache(0)
        try:
            return asyncio.run(_introspections(service, tokens, seconds))
        finally:
            service.cache = kept

    return measure


def in_process(seconds: float) -> dict[str, Any]:
    """Raw Ed25519 sign/verify, issue and introspection rates, interleaved in one run."""
    with tempfile.TemporaryDirectory(prefix="shieldx-locator-bench-") as tmp:
        settings = load_settings(
            None, environ={}, overrides={"data_dir": tmp, "logging": {"level": "warning"}}
        )
        configure_logging(settings.logging)  # logs to stderr: stdout is the JSON report
        ctx = build_context(settings)
        migrations.upgrade(ctx.db)
        service = LocatorService(
            db=ctx.db,
            keyring=ctx.keyring,
            settings=settings,
            metrics=LocatorMetrics(CollectorRegistry()),
        )
        try:
            service.start()

            def issue() -> str:
                return service.issue(
                    subject="user-1234",
                    audience="https://api.example.com",
                    scopes=["read", "write"],
                    client_id="bench-client",
                    tenant="acme",
                ).access_token

            sample = issue()
            signing_input = sample.rsplit(".", 1)[0].encode()
            key = Ed25519PrivateKey.generate()
            signature = key.sign(signing_input)
            public = key.public_key()
            tokens = [issue() for _ in range(TOKEN_POOL)]
            cached = _introspect_measure(service, tokens, cached=True)
            cached(0.05)  # fill the cache before measuring it
            rates = _interleaved(
                {
                    "raw_sign": lambda s: _count(lambda: key.sign(signing_input), s),
                    "issue": lambda s: _count(issue, s),
                    "raw_verify": lambda s: _count(
                        lambda: public.verify(signature, signing_input), s
                    ),
                    "introspect": cached,
                    "introspect_uncached": _introspect_measure(service, tokens, cached=False),
                },
                seconds,
            )
        finally:
            service.close()
            ctx.close()
    return {
        "issue_per_s": round(rates["issue"]),
        "introspect_per_s": round(rates["introspect"]),
        "introspect_uncached_per_s": round(rates["introspect_uncached"]),
        "raw_sign_per_s": round(rates["raw_sign"]),
        "raw_verify_per_s": round(rates["raw_verify"]),
        "issue_vs_raw_sign": round(rates["issue"] / rates["raw_sign"], 3),
        "introspect_vs_raw_verify": round(rates["introspect"] / rates["raw_verify"], 3),
        "introspect_uncached_vs_raw_verify": round(
            rates["introspect_uncached"] / rates["raw_verify"], 3
        ),
        "token_bytes": len(sample),
        "seconds_per_measure": seconds,
    }


def _post_json(url: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 (a loopback URL of our own server)
        url,
        data=orjson.dumps(body),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        doc: dict[str, Any] = orjson.loads(response.read())
        return doc


def _lua(tokens: list[str], key: str) -> str:
    listed = ",\n".join(f'  "{t}"' for t in tokens)
    return (
        f"local tokens = {{\n{listed}\n}}\n"
        "local i = 0\n"
        'wrk.method = "POST"\n'
        f'wrk.headers["Authorization"] = "Bearer {key}"\n'
        'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
        "request = function()\n"
        "  i = i % #tokens + 1\n"
        '  return wrk.format(nil, nil, nil, "token=" .. tokens[i])\n'
        "end\n"
    )


def _inactive_count(metrics_text: str) -> float:
    for line in metrics_text.splitlines():
        if line.startswith('locator_introspections_total{active="false"}'):
            return float(line.split()[-1])
    return 0.0


def over_http(*, duration: float, connections: int, tokens: int) -> dict[str, Any]:
    """Introspection over real HTTP: `shieldx serve locator` driven by wrk posting token=…."""
    tool = find_tool()
    if tool != "wrk":
        raise RuntimeError("the HTTP benchmark needs wrk (apt-get install -y wrk)")
    admin = "shx_bench_" + secrets.token_urlsafe(24)
    env = {
        "SHIELDX_SECURITY_RATE_LIMIT_KEY_RATE": "1000000",
        "SHIELDX_SECURITY_RATE_LIMIT_KEY_BURST": "10000000",
        "SHIELDX_SECURITY_RATE_LIMIT_TENANT_RATE": "1000000",
        "SHIELDX_SECURITY_RATE_LIMIT_TENANT_BURST": "10000000",
    }
    with tempfile.TemporaryDirectory(prefix="shieldx-locator-http-") as tmp:
        args = ["serve", "locator", "--port", str(free_port())]
        with spawn_server(args, data_dir=Path(tmp), admin_key=admin, env=env) as server:
            base = server.urls["locator"]
            pool = [
                _post_json(
                    base + "/issue",
                    admin,
                    {"subject": f"user-{i}", "audience": "api", "scopes": ["read"], "tenant": "t"},
                )["access_token"]
                for i in range(tokens)
            ]
            result = run_load(
                base + "/introspect",
                connections=connections,
                duration=duration,
                threads=1,
                lua_script=_lua(pool, admin),
                tool=tool,
            )
            with urllib.request.urlopen(base + "/metrics", timeout=30) as response:  # noqa: S310
                inactive = _inactive_count(response.read().decode())
    return {**result.as_dict(), "target": "/introspect", "tokens": tokens, "inactive": inactive}


def run(*, http: bool, seconds: float, duration: float, connections: int) -> dict[str, Any]:
    """The whole report."""
    report: dict[str, Any] = {"benchmark": "locator", "machine": machine()}
    report.update(in_process(seconds))
    if http:
        report["http_introspect"] = over_http(
            duration=duration, connections=connections, tokens=100
        )
    return report
