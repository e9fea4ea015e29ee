"""Holds and grants expire: by the sweeper and lazily when the account is next touched."""

from __future__ import annotations

import orjson
import pytest
import sqlalchemy as sa

from shieldx.credits import tables
from shieldx.credits.ledger.errors import HoldNotActive
from shieldx.credits.ledger.service import CreditsService
from shieldx.credits.ledger.sweeper import Sweeper
from shieldx.platform.context import PlatformContext

from ..conftest import Clock, idem, run_service

T = "t"


async def _buy(service: CreditsService, amount: int, **grant: object) -> None:
    args: dict[str, object] = {"grant_type": "paid", "priority": 100, "expires_at": None, **grant}
    await service.purchase(
        tenant=T,
        account_id="a",
        amount=amount,
        payment=None,
        idem=idem(),
        **args,  # type: ignore[arg-type]
    )


def _read_model(ctx: PlatformContext) -> tuple[int, int, int]:
    b = tables.balances.c
    with ctx.db.read() as conn:
        row = conn.execute(
            sa.select(b.balance, b.held, b.available).where(b.account_id == "a")
        ).one()
    return row.balance, row.held, row.available


def _types(ctx: PlatformContext) -> list[str]:
    e = tables.event_store.c
    with ctx.db.read() as conn:
        return list(conn.execute(sa.select(e.type).order_by(e.position)).scalars())


def test_the_sweeper_releases_a_hold_whose_ttl_passed(
    ctx_on_backend: PlatformContext, clock: Clock
) -> None:
    async def scenario(service: CreditsService) -> None:
        await _buy(service, 100)
        hold = await service.reserve(
            tenant=T, account_id="a", amount=30, ttl_seconds=10, reason="job", idem=idem()
        )
        rid = orjson.loads(hold.body)["reservation_id"]
        sweeper = Sweeper(service, clock=clock)
        assert await sweeper.sweep() == 0
        assert _read_model(ctx_on_backend) == (100, 30, 70)
        clock.advance(10)
        assert await sweeper.sweep() == 1
        assert _read_model(ctx_on_backend) == (100, 0, 100)
        with pytest.raises(HoldNotActive) as refused:
            await service.commit(tenant=T, reservation_id=rid, amount=None, idem=idem())
        assert refused.value.state == "expired"
        with ctx_on_backend.db.read() as conn:
            state = conn.execute(sa.select(tables.holds.c.state)).scalar_one()
        assert state == "expired"

    run_service(ctx_on_backend, scenario, clock=clock)
    assert _types(ctx_on_backend)[-1] == "hold_expired"


def test_a_due_hold_is_released_lazily_by_the_next_command(
    ctx_on_backend: PlatformContext, clock: Clock
) -> None:
    async def scenario(service: CreditsService) -> None:
        await _buy(service, 100)
        await service.reserve(
            tenant=T, account_id="a", amount=60, ttl_seconds=5, reason="", idem=idem()
        )
        clock.advance(6)
        # Without the lazy release only 40 would be available.
        await service.consume(tenant=T, account_id="a", amount=100, reason="all", idem=idem())

    run_service(ctx_on_backend, scenario, clock=clock)
    assert _types(ctx_on_backend)[-2:] == ["hold_expired", "credits_consumed"]
    assert _read_model(ctx_on_backend) == (0, 0, 0)


def test_grants_are_drawn_by_priority_then_expiry_and_expire(
    ctx_on_backend: PlatformContext, clock: Clock
) -> None:
    now = clock.now

    async def scenario(service: CreditsService) -> None:
        await _buy(service, 50, grant_type="promotional", priority=10, expires_at=now + 100_000_000)
        await _buy(service, 50, priority=100)
        await _buy(service, 50, priority=10, expires_at=now + 50_000_000)
        await service.consume(tenant=T, account_id="a", amount=60, reason="api", idem=idem())
        clock.advance(100)
        assert await Sweeper(service, clock=clock).sweep() == 1

    run_service(ctx_on_backend, scenario, clock=clock)
    e = tables.event_store.c
    with ctx_on_backend.db.read() as conn:
        rows = conn.execute(sa.select(e.type, e.amount, e.data).order_by(e.position)).all()
    grants = [orjson.loads(r.data)["grant"] for r in rows if r.type == "credits_purchased"]
    consumed = next(orjson.loads(r.data) for r in rows if r.type == "credits_consumed")
    assert consumed["alloc"] == [[grants[2], 50], [grants[0], 10]]
    expired = [(orjson.loads(r.data)["grant"], r.amount) for r in rows if r.type == "grant_expired"]
    assert expired == [(grants[2], 0), (grants[0], 40)]
    assert _read_model(ctx_on_backend) == (50, 0, 50)
    with ctx_on_backend.db.read() as conn:
        left = conn.execute(
            sa.select(sa.func.count()).where(tables.grants.c.expired_at_us.is_(None))
        ).scalar_one()
    assert left == 1  # only the grant without expiry
