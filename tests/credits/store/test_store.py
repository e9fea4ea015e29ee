"""The event store on both backends: group commit, hash chain, tamper detection, snapshots."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from shieldx.config import Settings
from shieldx.credits import tables
from shieldx.credits.audit import verify as audit
from shieldx.credits.ledger.errors import InsufficientCredits
from shieldx.credits.ledger.service import CreditsService
from shieldx.credits.store.backends import create_store
from shieldx.credits.writer.accounts import rebuild_account
from shieldx.credits.writer.submissions import WriterUnavailable
from shieldx.platform import migrations
from shieldx.platform.context import PlatformContext, build_context

from ..conftest import Clock, idem, run_service


async def _fund(service: CreditsService, account: str, amount: int) -> None:
    await service.purchase(
        tenant="t", account_id=account, amount=amount, grant_type="paid", priority=0,
        expires_at=None, payment=None, idem=idem(),
    )  # fmt: skip


async def _activity(service: CreditsService) -> None:
    await _fund(service, "a", 100)
    await _fund(service, "b", 50)
    for n in range(5):
        await service.consume(tenant="t", account_id="a", amount=n + 1, reason="api", idem=idem())
    hold = await service.reserve(
        tenant="t", account_id="b", amount=20, ttl_seconds=60, reason="job", idem=idem()
    )
    from orjson import loads

    rid = loads(hold.body)["reservation_id"]
    await service.commit(tenant="t", reservation_id=rid, amount=5, idem=idem())


def _count(ctx: PlatformContext) -> int:
    with ctx.db.read() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).select_from(tables.event_store)).scalar_one()
        )


def test_group_commit_chains_every_event(ctx_on_backend: PlatformContext) -> None:
    run_service(ctx_on_backend, _activity)
    store = create_store(ctx_on_backend.db)
    result = audit.verify(store)
    assert result.ok, result
    assert result.verified_events == _count(ctx_on_backend) == 11
    assert (result.head_position, result.head_hash) == store.head()


def test_a_refused_command_writes_nothing(ctx_on_backend: PlatformContext) -> None:
    async def scenario(service: CreditsService) -> None:
        await _fund(service, "a", 10)
        before = _count(ctx_on_backend)
        with pytest.raises(InsufficientCredits):
            await service.consume(tenant="t", account_id="a", amount=11, reason="x", idem=idem())
        assert _count(ctx_on_backend) == before

    run_service(ctx_on_backend, scenario)


TAMPERING = {
    "edit": ["UPDATE event_store SET amount = amount + 1 WHERE position = 4"],
    "delete": ["DELETE FROM event_store WHERE position = 4"],
    "swap": [
        "UPDATE event_store SET position = -1 WHERE position = 4",
        "UPDATE event_store SET position = 4 WHERE position = 5",
        "UPDATE event_store SET position = 5 WHERE position = -1",
    ],
    "insert": [
        "UPDATE event_store SET position = position + 1000 WHERE position >= 4",
        "UPDATE event_store SET position = position - 999 WHERE position >= 1004",
        "INSERT INTO event_store (position, tenant, account_id, version, prev, type, amount,"
        " balance, held, reason, tx, data, at_us, idempotency_key, hash) SELECT 4, tenant,"
        " account_id, 99, prev, type, amount, balance, held, reason, tx, data, at_us, NULL, hash"
        " FROM event_store WHERE position = 3",
    ],
    "truncate": ["DELETE FROM event_store WHERE position = 11"],
    "append": [
        "INSERT INTO event_store (position, tenant, account_id, version, prev, type, amount,"
        " balance, held, reason, tx, data, at_us, idempotency_key, hash) SELECT 12, tenant,"
        " account_id, 99, prev, type, amount, balance, held, reason, tx, data, at_us, NULL, hash"
        " FROM event_store WHERE position = 11",
    ],
}
EXPECTED_BAD = {"edit": 4, "delete": 4, "swap": 4, "insert": 4, "truncate": 11, "append": 12}


@pytest.mark.parametrize("kind", sorted(TAMPERING))
def test_tampering_is_found_at_its_position(ctx_on_backend: PlatformContext, kind: str) -> None:
    run_service(ctx_on_backend, _activity)
    with ctx_on_backend.db.write() as conn:
        for statement in TAMPERING[kind]:
            conn.execute(sa.text(statement))
    store = create_store(ctx_on_backend.db)
    result = audit.verify(store)
    assert not result.ok
    assert result.first_bad_position == EXPECTED_BAD[kind], result.reason
    assert result.reason
    # A range that ends before the damage still verifies.
    assert audit.verify(store, to_position=3).ok


def test_loading_reads_at_most_n_events_after_the_snapshot(
    backend_url: str, make_settings: Callable[..., Settings]
) -> None:
    ctx = build_context(
        make_settings(database={"url": backend_url}, event_sourcing={"snapshot_interval": 10})
    )
    migrations.upgrade(ctx.db)
    try:

        async def scenario(service: CreditsService) -> None:
            await _fund(service, "a", 1000)
            for _ in range(47):
                await service.consume(tenant="t", account_id="a", amount=1, reason="x", idem=idem())

        run_service(ctx, scenario)
        store = create_store(ctx.db)
        load = store.load_streams([("t", "a")])[("t", "a")]
        assert load.snapshot_state is not None
        assert 0 < len(load.events) < 10
        account = rebuild_account(("t", "a"), load)
        assert (account.version, account.balance) == (49, 953)
        with ctx.db.read() as conn:
            snapshots = conn.execute(
                sa.select(sa.func.count()).select_from(tables.aggregate_snapshots)
            ).scalar_one()
        assert snapshots == 4
    finally:
        ctx.close()


def test_two_writers_on_one_database_never_overdraw(ctx_on_backend: PlatformContext) -> None:
    """Two services (as two processes would) share a database: versions keep them honest."""

    async def main() -> tuple[int, int]:
        first = CreditsService(ctx_on_backend, clock=Clock())
        second = CreditsService(ctx_on_backend, clock=Clock())
        await first.start()
        await second.start()
        try:
            await _fund(first, "a", 300)
            ok = refused = 0

            async def hammer(service: CreditsService) -> None:
                nonlocal ok, refused
                for _ in range(100):
                    key = idem()
                    while True:  # a 503 under contention is retried with the same key
                        try:
                            await service.consume(
                                tenant="t", account_id="a", amount=2, reason="x", idem=key
                            )
                            ok += 1
                        except InsufficientCredits:
                            refused += 1
                        except WriterUnavailable:
                            continue
                        break

            await asyncio.gather(*(hammer(s) for s in (first, second) for _ in range(4)))
            return ok, refused
        finally:
            await first.stop()
            await second.stop()

    ok, refused = asyncio.run(main())
    assert ok == 150 and refused == 650
    store = create_store(ctx_on_backend.db)
    assert audit.verify(store).ok
    account = rebuild_account(("t", "a"), store.load_streams([("t", "a")])[("t", "a")])
    assert (account.balance, account.available) == (0, 0)
