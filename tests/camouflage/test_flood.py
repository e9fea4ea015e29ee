"""A flood of 100,000 requests from 50,000 addresses: memory stays flat because of the cap."""

from __future__ import annotations

import gc
import ipaddress
import os
import tracemalloc
from typing import Any

import httpx

from shieldx.camouflage.bench import rss_mb
from shieldx.camouflage.recon.classify import classify_request
from shieldx.camouflage.sessions.tracker import SessionTracker

ADDRESSES = 50_000
REQUESTS = 100_000
BATCH = 1000
CAP = 2000
GROWTH_LIMIT_MB = 10
PATHS = ["/", "/.env", "/wp-login.php", "/admin/", "/index.php?id=1%27", "/favicon.ico"]


def _batch(start: int) -> list[dict[str, Any]]:
    base = int(ipaddress.ip_address("10.0.0.0"))
    return [
        {
            "decoy": "flood-sensor",
            "source_ip": str(ipaddress.ip_address(base + (i % ADDRESSES))),
            "source_port": 1024 + i % 60000,
            "method": "GET",
            "path": PATHS[i % len(PATHS)].split("?")[0],
            "query": PATHS[i % len(PATHS)].partition("?")[2],
            "headers": [
                ["User-Agent", "masscan/1.3 (https://github.com/robertdavidgraham/masscan)"]
            ],
            "status": 404,
        }
        for i in range(start, start + BATCH)
    ]


def _bytes_per_session() -> float:
    """What one live session costs, measured (the memory the cap saves)."""
    tracker = SessionTracker(
        idle_timeout_s=75, max_live=10**6, max_tracked_paths=256, on_close=lambda s, r: None
    )
    verdict = classify_request(
        method="GET", path="/", query="", http_version="HTTP/1.1", headers=()
    )
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(5000):
        s = tracker.session_for(source_ip=f"10.1.{i // 256}.{i % 256}", user_agent="masscan/1.3",
                                decoy="d", template="t", source_port=1, now=0.0)  # fmt: skip
        tracker.record(s, path="/", status=404, maze_depth=0, request_class=verdict, at=0.0)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / 5000


def test_memory_stays_flat_under_a_flood_from_many_addresses(
    camouflage_ctx: Any, start_camouflage: Any
) -> None:
    ctx = camouflage_ctx(sessions={"max_live": CAP}, recording={"log_batch_max": BATCH})
    with (
        start_camouflage(ctx) as cam,
        httpx.Client(headers=cam.headers("service"), timeout=60) as client,
    ):
        url = cam.url + "/v1/camouflage/log"

        def send(start: int, stop: int) -> None:
            for offset in range(start, stop, BATCH):
                answer = client.post(url, json={"events": _batch(offset)})
                assert answer.status_code == 200, answer.text
                # Keep the writer's backlog out of the picture: what is measured is what
                # stays in memory (sessions), not what waits to be written.
                cam.flush()

        send(0, 20_000)  # warm-up: allocator arenas, caches, the writer's first batches
        cam.flush()
        gc.collect()
        rss_before = rss_mb(os.getpid())
        send(20_000, REQUESTS)
        cam.flush()
        gc.collect()
        rss_after = rss_mb(os.getpid())
        service = cam.service
        assert len(service.tracker) == CAP
        assert service.tracker.opened == REQUESTS  # each address twice, its session evicted between
        assert service.tracker.evicted == REQUESTS - CAP
        assert service.writer.dropped == 0
        assert service.store.count_events(event="camouflage.request") == REQUESTS
        assert service.store.count_events(event="camouflage.session.closed") == REQUESTS - CAP
        assert service.writer.batches < REQUESTS / 50  # batched writes, not one per event
    growth = rss_after - rss_before
    # Without the cap, the 30,000 addresses first seen after the warm-up would each hold a
    # live session (idle timeout 75 s): that is the memory the cap and LRU eviction save.
    uncapped = (ADDRESSES - 20_000) * _bytes_per_session() / 2**20
    print(f"RSS {rss_before:.1f} -> {rss_after:.1f} MiB; uncapped sessions: +{uncapped:.0f} MiB")
    assert growth < GROWTH_LIMIT_MB, f"RSS grew by {growth:.1f} MiB"
    assert uncapped > 2 * GROWTH_LIMIT_MB
