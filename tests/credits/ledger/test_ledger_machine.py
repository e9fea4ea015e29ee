"""Random command sequences through the real writer and store (both backends), with restarts.

The model is deliberately simple: grants never expire, so available = purchased - consumed -
held. After every step the read model, the writer's cache and the model agree; a restart
(new writer, empty cache) reloads accounts from snapshots and events.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any, ClassVar

import orjson
import sqlalchemy as sa
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from shieldx.config import Settings
from shieldx.credits import tables
from shieldx.credits.audit import verify as audit
from shieldx.credits.ledger.errors import (
    AccountNotFound,
    HoldNotActive,
    InsufficientCredits,
    LedgerError,
)
from shieldx.credits.ledger.service import CreditsService
from shieldx.credits.store.backends import create_store
from shieldx.platform import migrations
from shieldx.platform.context import PlatformContext, build_context

from ..conftest import Clock, idem

ACCOUNTS = ("a", "b")


class LedgerMachine(RuleBasedStateMachine):
    """One tenant per example, so examples share a database but not accounts."""

    ctx: ClassVar[PlatformContext]

    def __init__(self) -> None:
        super().__init__()
        self.tenant = uuid.uuid4().hex
        self.runner = asyncio.Runner()
        self.service = self._start()
        self.balance = dict.fromkeys(ACCOUNTS, 0)
        self.holds: dict[str, tuple[str, int]] = {}
        self.resolved: set[str] = set()

    def _start(self) -> CreditsService:
        service = CreditsService(self.ctx, clock=Clock())
        self.runner.run(service.start())
        return service

    def _do(self, call: Any) -> Any:
        return self.runner.run(call)

    def teardown(self) -> None:
        self.runner.run(self.service.stop())
        self.runner.close()

    def held(self, account: str) -> int:
        return sum(amount for acct, amount in self.holds.values() if acct == account)

    @rule(account=st.sampled_from(ACCOUNTS), amount=st.integers(1, 50))
    def purchase(self, account: str, amount: int) -> None:
        self._do(self.service.purchase(
            tenant=self.tenant, account_id=account, amount=amount, grant_type="paid",
            priority=0, expires_at=None, payment=None, idem=idem(),
        ))  # fmt: skip
        self.balance[account] += amount

    @rule(account=st.sampled_from(ACCOUNTS), amount=st.integers(1, 60))
    def consume(self, account: str, amount: int) -> None:
        fits = amount <= self.balance[account] - self.held(account)
        try:
            self._do(self.service.consume(
                tenant=self.tenant, account_id=account, amount=amount, reason="x", idem=idem()
            ))  # fmt: skip
        except (InsufficientCredits, AccountNotFound):
            assert not fits
            return
        assert fits
        self.balance[account] -= amount

    @rule(account=st.sampled_from(ACCOUNTS), amount=st.integers(1, 40))
    def reserve(self, account: str, amount: int) -> None:
        fits = amount <= self.balance[account] - self.held(account)
        try:
            answer = self._do(self.service.reserve(
                tenant=self.tenant, account_id=account, amount=amount, ttl_seconds=3600,
                reason="job", idem=idem(),
            ))  # fmt: skip
        except LedgerError:
            assert not fits
            return
        assert fits
        self.holds[orjson.loads(answer.body)["reservation_id"]] = (account, amount)

    @precondition(lambda self: self.holds or self.resolved)
    @rule(data=st.data(), commit=st.booleans(), part=st.integers(1, 40))
    def resolve(self, data: st.DataObject, commit: bool, part: int) -> None:
        hold = data.draw(st.sampled_from(sorted(self.holds) + sorted(self.resolved)))
        if commit:
            call = self.service.commit(
                tenant=self.tenant, reservation_id=hold, amount=part, idem=idem()
            )
        else:
            call = self.service.cancel(tenant=self.tenant, reservation_id=hold, idem=idem())
        try:
            self._do(call)
        except HoldNotActive:
            assert hold in self.resolved
            return
        except LedgerError:
            assert hold in self.holds and commit and part > self.holds[hold][1]
            return
        account, _ = self.holds.pop(hold)
        self.resolved.add(hold)
        if commit:
            self.balance[account] -= part

    @rule()
    def restart(self) -> None:
        self._do(self.service.stop())
        self.service = self._start()

    @invariant()
    def read_model_and_cache_agree_with_the_model(self) -> None:
        b = tables.balances.c
        with self.ctx.db.read() as conn:
            rows = {
                r.account_id: (r.balance, r.held, r.available)
                for r in conn.execute(
                    sa.select(b.account_id, b.balance, b.held, b.available).where(
                        b.tenant == self.tenant
                    )
                )
            }
        for account in ACCOUNTS:
            expected = (
                self.balance[account],
                self.held(account),
                self.balance[account] - self.held(account),
            )
            assert rows.get(account, (0, 0, 0)) == expected
            cached = self.service.writer.accounts.get((self.tenant, account))
            if cached is not None and cached.opened:
                assert (cached.balance, cached.held, cached.available) == expected


def test_random_command_sequences_through_the_store(
    backend_url: str, make_settings: Callable[..., Settings]
) -> None:
    # Snapshots every 3 events, so restarts load from snapshots most of the time.
    ctx = build_context(
        make_settings(database={"url": backend_url}, event_sourcing={"snapshot_interval": 3})
    )
    migrations.upgrade(ctx.db)
    try:
        LedgerMachine.ctx = ctx
        run_state_machine_as_test(
            LedgerMachine, settings=settings(max_examples=12, stateful_step_count=25, deadline=None)
        )
        assert audit.verify(create_store(ctx.db)).ok
        with ctx.db.read() as conn:
            assert (
                conn.execute(
                    sa.select(sa.func.count()).select_from(tables.aggregate_snapshots)
                ).scalar_one()
                > 0
            )
    finally:
        ctx.close()
