"""Every credits endpoint on four shards (SQLite files, PostgreSQL databases), over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from shieldx.credits import tables
from shieldx.credits.shards.domain import Ring
from shieldx.credits.shards.store import configured_map, shard_database
from shieldx.platform.context import PlatformContext
from shieldx.platform.db import Database

from ..conftest import Api, serve_credits

RING = Ring(("shard-0", "shard-1", "shard-2", "shard-3"), 256)
ACCOUNTS = [f"acct-{n}" for n in range(24)]


def _buy(api: Api, account: str, amount: int, as_: str = "a") -> dict[str, Any]:
    response = api.post("/credits/purchase", {"account_id": account, "amount": amount}, as_=as_)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _pair(same: bool) -> tuple[str, str]:
    """Two accounts of tenant-a on the same shard or on different shards."""
    first = ACCOUNTS[0]
    for other in ACCOUNTS[1:]:
        if (RING.shard_of("tenant-a", other) == RING.shard_of("tenant-a", first)) == same:
            return first, other
    raise AssertionError("no such pair among ACCOUNTS")


def _shard_db(ctx: PlatformContext, name: str) -> Database:
    """Shard NAME's database (a SQLite file or the PostgreSQL database configured for it)."""
    return shard_database(ctx.settings, name, dict(configured_map(ctx.settings).shards)[name])


def _accounts_in(ctx: PlatformContext, shard: str) -> set[tuple[str, str]]:
    db = _shard_db(ctx, shard)
    try:
        with db.read() as conn:
            rows = conn.execute(
                sa.select(tables.balances.c.tenant, tables.balances.c.account_id)
            ).all()
    finally:
        db.dispose()
    return {(r.tenant, r.account_id) for r in rows}


def test_each_account_lives_on_its_ring_shard_and_nothing_in_the_main_database(
    sharded_ctx: PlatformContext,
) -> None:
    with serve_credits(sharded_ctx) as api:
        for account in ACCOUNTS:
            _buy(api, account, 100)
        _buy(api, "acct-0", 5, as_="b")
        for account in ACCOUNTS:
            body = api.get(f"/credits/balance/{account}").json()
            assert (body["balance"], body["available"]) == (100, 100)
        assert api.get("/credits/balance/acct-0", as_="b").json()["balance"] == 5
    placed = {name: _accounts_in(sharded_ctx, name) for name in RING.shards}
    assert all(placed.values()), placed  # 24 accounts reach all four shards
    for name, accounts in placed.items():
        assert all(RING.shard_of(t, a) == name for t, a in accounts)
    assert sum(len(a) for a in placed.values()) == len(ACCOUNTS) + 1
    with sharded_ctx.db.read() as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(tables.event_store)).scalar() == 0
        )


def test_commands_holds_thresholds_and_idempotency_on_shards(sharded_ctx: PlatformContext) -> None:
    with serve_credits(sharded_ctx) as api:
        assert api.post("/credits/accounts", {"account_id": "acct-3"}).status_code == 201
        assert api.post("/credits/accounts", {"account_id": "acct-3"}).status_code == 409
        _buy(api, "acct-3", 100)
        first = api.post("/credits/consume", {"account_id": "acct-3", "amount": 10, "reason": "x"}, key="k-1")  # fmt: skip
        again = api.post("/credits/consume", {"account_id": "acct-3", "amount": 10, "reason": "x"}, key="k-1")  # fmt: skip
        assert first.status_code == again.status_code == 200
        assert again.headers.get("Idempotent-Replayed") == "true"
        assert again.json() == first.json()
        short = api.post("/credits/consume", {"account_id": "acct-3", "amount": 1000, "reason": "x"})  # fmt: skip
        assert short.status_code == 409 and short.json()["type"].endswith("insufficient-credits")
        held = api.post(
            "/credits/reserve", {"account_id": "acct-3", "amount": 30, "ttl_seconds": 60}
        )
        assert held.status_code == 201, held.text
        hold = held.json()["reservation_id"]
        done = api.post("/credits/commit", {"reservation_id": hold, "amount": 20})
        assert done.status_code == 200, done.text
        assert (done.json()["committed"], done.json()["released"]) == (20, 10)
        assert api.post("/credits/cancel", {"reservation_id": hold}).status_code == 409
        other = api.post(
            "/credits/reserve", {"account_id": "acct-3", "amount": 5, "ttl_seconds": 60}
        ).json()["reservation_id"]
        assert api.post("/credits/cancel", {"reservation_id": other}, as_="b").status_code == 404
        assert api.post("/credits/cancel", {"reservation_id": other}).status_code == 200
        threshold = api.post("/credits/threshold", {"account_id": "acct-3", "threshold": 60})
        assert threshold.status_code == 200, threshold.text
        api.post("/credits/consume", {"account_id": "acct-3", "amount": 20, "reason": "x"})
        alerts = api.get("/credits/alerts").json()["items"]
        assert [a["account_id"] for a in alerts] == ["acct-3"]
        balance = api.get("/credits/balance/acct-3").json()
        assert (balance["balance"], balance["held"]) == (50, 0)
        bought = api.get("/credits/history", account_id="acct-3").json()["items"][-1]
        past = api.get("/credits/balance/acct-3", as_of=str(bought["position"]))
        assert past.json()["balance"] == 100


def test_batches_run_on_one_shard_and_are_refused_across_shards(
    sharded_ctx: PlatformContext,
) -> None:
    near, far = _pair(same=False)
    a, b = _pair(same=True)
    with serve_credits(sharded_ctx) as api:
        for account in {near, far, a, b}:
            _buy(api, account, 50)
        ops = [
            {"op": "consume", "account_id": a, "amount": 10, "reason": "x"},
            {"op": "consume", "account_id": b, "amount": 60, "reason": "x"},
        ]
        refused = api.post("/credits/batch", {"operations": ops, "atomic": True})
        assert refused.status_code == 409
        ops[1]["amount"] = 5
        assert api.post("/credits/batch", {"operations": ops, "atomic": True}).status_code == 200
        across = [
            {"op": "consume", "account_id": near, "amount": 1, "reason": "x"},
            {"op": "consume", "account_id": far, "amount": 1, "reason": "x"},
        ]
        spans = api.post("/credits/batch", {"operations": across, "atomic": True})
        assert spans.status_code == 422
        assert spans.json()["type"].endswith("batch-spans-shards")
        assert api.get(f"/credits/balance/{far}").json()["balance"] == 50  # nothing applied


@pytest.mark.parametrize("same", [True, False], ids=["one-shard", "two-shards"])
def test_transfers_within_and_across_shards(sharded_ctx: PlatformContext, same: bool) -> None:
    src, dst = _pair(same=same)
    with serve_credits(sharded_ctx) as api:
        _buy(api, src, 100)
        body = {"from_account": src, "to_account": dst, "amount": 30, "reason": "move"}
        moved = api.post("/credits/transfer", body, key="t-1")
        assert moved.status_code == 200, moved.text
        answer = moved.json()
        assert answer["amount"] == 30
        assert (answer["from"]["account_id"], answer["from"]["balance"]) == (src, 70)
        assert (answer["to"]["account_id"], answer["to"]["balance"]) == (dst, 30)
        replay = api.post("/credits/transfer", body, key="t-1")
        assert replay.json() == answer
        assert replay.headers.get("Idempotent-Replayed") == "true"
        reused = api.post("/credits/transfer", {**body, "amount": 31}, key="t-1")
        assert reused.status_code == 409
        assert reused.json()["type"].endswith("idempotency-key-reused")
        short = api.post("/credits/transfer", {**body, "amount": 1000}, key="t-2")
        assert short.status_code == 409, short.text
        assert short.json()["type"].endswith("insufficient-credits")
        again = api.post("/credits/transfer", {**body, "amount": 1000}, key="t-2")
        assert again.status_code == 409 and again.json()["type"] == short.json()["type"]
        for account, balance in ((src, 70), (dst, 30)):
            row = api.get(f"/credits/balance/{account}").json()
            assert (row["balance"], row["held"]) == (balance, 0)
        same_account = {**body, "to_account": src}
        assert api.post("/credits/transfer", same_account).status_code == 422
        other_tenant = api.post("/credits/transfer", body, as_="b")
        assert other_tenant.status_code in (404, 409)  # tenant-b has no such accounts
        verified = api.post("/credits/audit/verify", {}, as_="admin", key=None).json()
        assert verified["ok"]


def test_tenant_history_merges_every_shard_newest_first_with_a_cursor(
    sharded_ctx: PlatformContext,
) -> None:
    with serve_credits(sharded_ctx) as api:
        for n, account in enumerate(ACCOUNTS[:12]):
            _buy(api, account, 10 + n)
        _buy(api, "acct-0", 999, as_="b")
        seen: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 5}
            if cursor:
                params["cursor"] = cursor
            page = api.get("/credits/history", **params).json()
            assert "items" in page, page
            seen.extend(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sorted(i["amount"] for i in seen) == list(range(10, 22))
        times = [i["at"] for i in seen]
        assert times == sorted(times, reverse=True)
        assert api.get("/credits/history", cursor="mbogus").status_code == 422
        one = api.get("/credits/history", account_id="acct-4").json()["items"]
        assert [i["amount"] for i in one] == [14]
        report = api.get("/credits/report", granularity="day").json()
        assert report["total"]["purchased"] == sum(range(10, 22))
        csv = api.get("/credits/report", granularity="day", format="csv").text
        assert csv.splitlines()[-1].startswith(f"total,{sum(range(10, 22))}")


def test_audit_verifies_every_shard_chain_and_names_a_broken_one(
    sharded_ctx: PlatformContext,
) -> None:
    with serve_credits(sharded_ctx) as api:
        for account in ACCOUNTS[:8]:
            _buy(api, account, 10)
        clean = api.post("/credits/audit/verify", {}, as_="admin", key=None).json()
        assert clean["ok"] and clean["verified_events"] == 16  # opened + purchased, each
        assert [s["shard"] for s in clean["shards"]] == list(RING.shards)
        victim = RING.shard_of("tenant-a", ACCOUNTS[0])
        db = _shard_db(sharded_ctx, victim)
        with db.write() as conn:
            conn.execute(tables.event_store.update().values(amount=11).where(tables.event_store.c.position == 1))  # fmt: skip
        db.dispose()
        broken = api.post("/credits/audit/verify", {}, as_="admin", key=None).json()
        assert not broken["ok"]
        assert (broken["shard"], broken["first_bad_position"]) == (victim, 1)
