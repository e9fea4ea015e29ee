"""Recovery while running: a transfer left undecided by another (dead) coordinator process is
aborted within sharding.transfer_timeout plus one recovery_interval, and its hold released."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from shieldx.config import Settings
from shieldx.credits import tables
from shieldx.credits.shards import store
from shieldx.credits.shards.domain import Transfer
from shieldx.credits.shards.service import ShardedCreditsService
from shieldx.platform import migrations
from shieldx.platform.context import build_context

from ..conftest import serve_credits

TIMEOUT_S = 1.0


def test_an_undecided_transfer_is_aborted_and_its_hold_released_within_the_bound(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(
        sharding={"num_shards": 2, "transfer_timeout": f"{TIMEOUT_S}s", "recovery_interval": "0.2s"},
        credits={"commit_process": False},
    )  # fmt: skip
    ctx = build_context(settings)
    migrations.upgrade(ctx.db)
    with serve_credits(ctx) as api:
        assert api.post("/credits/purchase", {"account_id": "acct-0", "amount": 100}).status_code == 201  # fmt: skip
        front = api.component.extra["service"]
        assert isinstance(front, ShardedCreditsService)
        target = next(
            f"acct-{n}"
            for n in range(1, 50)
            if front.ring.shard_of("tenant-a", f"acct-{n}") != front.ring.shard_of("tenant-a", "acct-0")
        )  # fmt: skip
        # What a coordinator that died after its prepare leaves: the record and the hold.
        t = Transfer(
            "tr_orphan", "tenant-a", "acct-0", target, 40, "move", "started", front.clock()
        )
        store.begin_transfer(ctx.db, t, key="orphan", request_hash="h")
        held = api.post(
            "/credits/reserve", {"account_id": "acct-0", "amount": 40, "ttl_seconds": 3600}
        )
        hold_id = held.json()["reservation_id"]
        store.record_state(ctx.db, t, "prepared", now_us=front.clock(), hold_id=hold_id)
        assert api.get("/credits/balance/acct-0").json()["available"] == 60
        started = time.monotonic()
        deadline = started + TIMEOUT_S + 10
        while store.transfer_outcome(ctx.db, "tr_orphan")[0] != "done":
            assert time.monotonic() < deadline, "recovery did not finish the orphan in time"
            time.sleep(0.05)
        balance = api.get("/credits/balance/acct-0").json()
        assert (balance["balance"], balance["held"], balance["available"]) == (100, 0, 100)
        assert api.get(f"/credits/balance/{target}").status_code == 404  # never credited
        state, status, _ = store.transfer_outcome(ctx.db, "tr_orphan")
        assert (state, status) == ("done", 409)
    ctx.close()


def _store_map(ctx_db: Any, version: int, names: list[str]) -> None:
    with ctx_db.write() as conn:
        conn.execute(
            tables.shard_map.insert(),
            [
                {"version": version, "position": i, "name": n, "url": None,
                 "virtual_nodes": 256, "created_at_us": 0}
                for i, n in enumerate(names)
            ],
        )  # fmt: skip


def _poll(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 15
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_moved_shard_map_is_adopted_if_it_places_alike_else_writes_are_refused(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(
        sharding={"num_shards": 2, "recovery_interval": "0.2s"}, credits={"commit_process": False}
    )
    ctx = build_context(settings)
    migrations.upgrade(ctx.db)
    with serve_credits(ctx) as api:
        buy = {"account_id": "acct-0", "amount": 10}
        assert api.post("/credits/purchase", buy).status_code == 201
        _store_map(ctx.db, 2, ["shard-0", "shard-1"])  # same placement, new version
        _poll(
            lambda: "credits_ring_version 2.0" in api.get("/metrics", as_="admin").text,
            "the same-layout map was not adopted",
        )
        assert api.post("/credits/purchase", buy).status_code == 201
        _store_map(ctx.db, 3, ["shard-0", "shard-1", "shard-2"])  # accounts would move
        _poll(
            lambda: api.post("/credits/purchase", buy).status_code == 503,
            "a stale ring kept routing",
        )
        refused = api.post("/credits/consume", {"account_id": "acct-0", "amount": 1, "reason": "x"})  # fmt: skip
        assert refused.status_code == 503
        assert "ring version 2" in refused.json()["detail"]
    ctx.close()
