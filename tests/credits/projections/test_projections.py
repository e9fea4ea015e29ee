"""Projections: the rebuild equals the live read models; the runner waits at a gap, never skips."""

from __future__ import annotations

import orjson
import psycopg
import sqlalchemy as sa

from shieldx.credits import tables
from shieldx.credits.ledger import chain
from shieldx.credits.ledger.service import CreditsService
from shieldx.credits.ledger.sweeper import Sweeper
from shieldx.credits.projections.runner import ProjectionRunner, rebuild
from shieldx.credits.store.backends import create_store
from shieldx.platform.context import PlatformContext

from ..conftest import Clock, idem, run_service

READ_MODELS = (tables.balances, tables.history, tables.usage)


def _dump(ctx: PlatformContext) -> dict[str, list[tuple[object, ...]]]:
    with ctx.db.read() as conn:
        return {
            table.name: sorted(tuple(row) for row in conn.execute(sa.select(table)))
            for table in READ_MODELS
        }


async def _activity(service: CreditsService, clock: Clock) -> None:
    for n in range(6):
        await service.purchase(
            tenant="t", account_id=f"a{n}", amount=100, grant_type="paid", priority=n,
            expires_at=clock.now + 3_600_000_000 if n % 2 else None, payment=None, idem=idem(),
        )  # fmt: skip
        await service.consume(
            tenant="t", account_id=f"a{n}", amount=n + 1, reason=f"r{n % 3}", idem=idem()
        )
        hold = await service.reserve(
            tenant="t",
            account_id=f"a{n}",
            amount=10,
            ttl_seconds=60 * (n + 1),
            reason="job",
            idem=idem(),
        )
        if n % 3 == 0:
            rid = orjson.loads(hold.body)["reservation_id"]
            await service.commit(tenant="t", reservation_id=rid, amount=4, idem=idem())
    clock.advance(2 * 3600)  # into the next hour: holds and grants expire
    await Sweeper(service, clock=clock).sweep()
    await service.consume(tenant="t", account_id="a0", amount=1, reason="late", idem=idem())
    assert await service.projections.wait_for(service.writer.head_position, within=10)


def test_a_rebuild_equals_the_live_read_models(
    ctx_on_backend: PlatformContext, clock: Clock
) -> None:
    run_service(ctx_on_backend, lambda service: _activity(service, clock), clock=clock)
    live = _dump(ctx_on_backend)
    assert len(live["credit_history"]) > 20 and len(live["credit_usage"]) > 10
    seen: list[tuple[int, int]] = []
    report = rebuild(
        create_store(ctx_on_backend.db), chunk=7, progress=lambda d, t: seen.append((d, t))
    )
    assert _dump(ctx_on_backend) == live
    assert report.accounts == 6 and report.events == seen[-1][1]
    assert seen[-1][0] == seen[-1][1]


def _raw_event(position: int, version: int, amount: int, balance: int) -> tuple[object, ...]:
    """A purchase row as the writer stores it (BALANCE: the account after it)."""
    data = orjson.dumps(
        {"grant": f"g{position}", "kind": "paid", "priority": 0, "expires_at": None}
    ).decode()
    prev = position - 1 if version > 1 else None
    row = (position, "t", "gap", version, prev, "credits_purchased", amount, balance, 0, "", "tx",
           data, 1, None)  # fmt: skip
    return (*row, chain.link(chain.GENESIS, row))


INSERT = (
    "INSERT INTO event_store (position, tenant, account_id, version, prev, type, amount, balance,"
    " held, reason, tx, data, at_us, idempotency_key, hash)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


def test_the_projector_waits_for_a_transaction_that_commits_out_of_order(
    postgres_url: str, make_settings: object
) -> None:
    """Two PostgreSQL transactions: position 2 commits while position 1 is still open."""
    from shieldx.platform import migrations
    from shieldx.platform.context import build_context

    ctx = build_context(make_settings(database={"url": postgres_url}))  # type: ignore[operator]
    migrations.upgrade(ctx.db)
    try:
        runner = ProjectionRunner(create_store(ctx.db))
        dsn = postgres_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn) as first, psycopg.connect(dsn) as second:
            first.execute(INSERT, _raw_event(1, 1, 10, 10))  # open, not committed
            second.execute(INSERT, _raw_event(2, 2, 5, 15))
            second.commit()
            assert runner.catch_up_once() == 0  # 2 is visible, 1 is not: wait
            assert runner.waiting_for == 1 and runner.position == 0
            first.commit()
        assert runner.catch_up_once() == 2
        assert runner.waiting_for is None and runner.position == 2
        with ctx.db.read() as conn:
            rows = conn.execute(
                sa.select(tables.history.c.position, tables.history.c.balance_after).order_by(
                    tables.history.c.position
                )
            ).all()
        assert [tuple(r) for r in rows] == [(1, 10), (2, 15)]
    finally:
        ctx.close()


def test_the_projector_never_skips_a_missing_position(ctx_on_backend: PlatformContext) -> None:
    store = create_store(ctx_on_backend.db)
    runner = ProjectionRunner(store)
    statement = INSERT.replace("%s", "?") if ctx_on_backend.db.backend == "sqlite" else INSERT
    with store.writing() as cur:
        cur.execute(statement, _raw_event(2, 2, 5, 15))
    assert runner.catch_up_once() == 0 and runner.waiting_for == 1
    with store.writing() as cur:
        cur.execute(statement, _raw_event(1, 1, 10, 10))
    assert runner.catch_up_once() == 2
