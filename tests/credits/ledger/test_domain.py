"""The account aggregate against a unit-by-unit model (hypothesis state machine) and by example."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from shieldx.credits.ledger.commands import (
    CancelHold,
    CommitHold,
    Consume,
    ExpireDue,
    OpenAccount,
    Purchase,
    Reserve,
    SetThreshold,
)
from shieldx.credits.ledger.domain import Account
from shieldx.credits.ledger.errors import (
    AccountExists,
    AccountNotFound,
    AmountExceedsHold,
    BalanceOverflow,
    HoldNotActive,
    HoldNotFound,
    InsufficientCredits,
    InvalidAmount,
    LedgerError,
)
from shieldx.credits.ledger.events import (
    MAX_AMOUNT,
    Event,
    GrantExpired,
    HoldExpired,
    ThresholdCrossed,
    decode,
    encode,
)

NEVER = 10**18


@dataclass
class Unit:
    """One credit: which grant it came from and where it is now."""

    grant: str
    order: tuple[int, int, int]
    expires_at: int
    state: str = "free"  # free | held:<hold> | consumed | expired


@dataclass
class Model:
    """The ledger as a bag of single credits: simple enough to be obviously right."""

    units: list[Unit] = field(default_factory=list)
    holds: dict[str, tuple[int, list[int]]] = field(default_factory=dict)  # id -> (expiry, units)
    hold_state: dict[str, str] = field(default_factory=dict)
    expired_grants: set[str] = field(default_factory=set)
    threshold: int = 0
    armed: bool = False
    crossings: int = 0

    def free(self) -> list[int]:
        idx = [i for i, u in enumerate(self.units) if u.state == "free"]
        return sorted(idx, key=lambda i: self.units[i].order)

    def expire(self, now: int) -> None:
        due = [h for h, (exp, _) in self.holds.items() if exp <= now]
        for hold in sorted(due, key=lambda h: (self.holds[h][0], h)):
            self.release(hold, "expired")
        for unit in self.units:
            if unit.expires_at <= now:
                self.expired_grants.add(unit.grant)
                if unit.state == "free":
                    unit.state = "expired"

    def release(self, hold: str, state: str, commit: int = 0) -> None:
        _, members = self.holds.pop(hold)
        for n, i in enumerate(members):
            unit = self.units[i]
            if n < commit:
                unit.state = "consumed"
            else:
                unit.state = "expired" if unit.grant in self.expired_grants else "free"
        self.hold_state[hold] = state

    @property
    def available(self) -> int:
        return sum(1 for u in self.units if u.state == "free")

    @property
    def held(self) -> int:
        return sum(1 for u in self.units if u.state.startswith("held"))

    def after_success(self) -> None:
        if self.threshold <= 0:
            return
        if self.armed and self.available < self.threshold:
            self.armed, self.crossings = False, self.crossings + 1
        elif not self.armed and self.available >= self.threshold:
            self.armed = True


class AccountMachine(RuleBasedStateMachine):
    """Random command sequences: the aggregate must agree with the model after every step."""

    def __init__(self) -> None:
        super().__init__()
        self.account = Account("t1", "a1")
        self.model = Model()
        self.now = 1_000
        self.seq = 0
        self.events: list[Event] = []
        self.crossed = 0

    def _id(self, prefix: str) -> str:
        self.seq += 1
        return f"{prefix}{self.seq}"

    def _run(self, command: object, expected: type[LedgerError] | None, model: Model) -> None:
        if expected is not None:
            with pytest.raises(expected):
                self.account.decide(command, self.now)  # type: ignore[arg-type]
            return
        events = self.account.decide(command, self.now)  # type: ignore[arg-type]
        version = self.account.version
        for event in events:
            assert decode(*encode(event)) == event
            self.account.apply(event)
        assert self.account.version == version + len(events)
        self.events += events
        self.crossed += sum(isinstance(e, ThresholdCrossed) for e in events)
        self.model = model
        self.model.after_success()

    def _scratch(self) -> Model:
        scratch = copy.deepcopy(self.model)
        scratch.expire(self.now)
        return scratch

    @rule(
        amount=st.integers(1, 10),
        priority=st.integers(0, 3),
        expires_in=st.one_of(st.none(), st.integers(1, 60)),
    )
    def purchase(self, amount: int, priority: int, expires_in: int | None) -> None:
        model = self._scratch()
        grant = self._id("g")
        expires_at = None if expires_in is None else self.now + expires_in
        order = (priority, NEVER if expires_at is None else expires_at, self.account.version)
        if not self.account.opened:
            order = (priority, order[1], 1)  # AccountOpened comes first
        for _ in range(amount):
            model.units.append(Unit(grant, order, expires_at or NEVER))
        tx = self._id("tx")
        self._run(Purchase(amount, "paid", priority, expires_at, grant, tx), None, model)

    @rule(amount=st.integers(1, 15))
    def consume(self, amount: int) -> None:
        model = self._scratch()
        expected: type[LedgerError] | None = None
        if not self.account.opened:
            expected = AccountNotFound
        elif model.available < amount:
            expected = InsufficientCredits
        else:
            for i in model.free()[:amount]:
                model.units[i].state = "consumed"
        self._run(Consume(amount, "api", self._id("tx")), expected, model)

    @rule(amount=st.integers(1, 12), ttl=st.integers(1, 40))
    def reserve(self, amount: int, ttl: int) -> None:
        model = self._scratch()
        hold = self._id("h")
        expected: type[LedgerError] | None = None
        if not self.account.opened:
            expected = AccountNotFound
        elif model.available < amount:
            expected = InsufficientCredits
        else:
            members = model.free()[:amount]
            for i in members:
                model.units[i].state = f"held:{hold}"
            model.holds[hold] = (self.now + ttl, members)
            model.hold_state[hold] = "active"
        self._run(Reserve(amount, ttl, "job", hold, self._id("tx")), expected, model)

    @precondition(lambda self: self.model.hold_state)
    @rule(data=st.data(), commit=st.booleans(), part=st.one_of(st.none(), st.integers(1, 14)))
    def resolve(self, data: st.DataObject, commit: bool, part: int | None) -> None:
        hold = data.draw(st.sampled_from(sorted(self.model.hold_state)))
        model = self._scratch()
        expected: type[LedgerError] | None = None
        if hold in self.model.holds and hold not in model.holds:
            expected = HoldNotActive  # expires with this very command
        elif hold not in model.holds:
            expected = HoldNotFound
        elif commit and part is not None and part > len(model.holds[hold][1]):
            expected = AmountExceedsHold
        elif commit:
            model.release(hold, "committed", part or len(model.holds[hold][1]))
        else:
            model.release(hold, "cancelled")
        tx = self._id("tx")
        command = CommitHold(hold, part, tx) if commit else CancelHold(hold, tx)
        self._run(command, expected, model)

    @rule(step=st.integers(1, 25))
    def advance(self, step: int) -> None:
        self.now += step

    @precondition(lambda self: self.account.opened)
    @rule()
    def expire_due(self) -> None:
        model = self._scratch()
        self._run(ExpireDue(), None, model)
        assert not self.account.due_expiries(self.now)

    @precondition(lambda self: self.account.opened)
    @rule(threshold=st.integers(0, 20))
    def set_threshold(self, threshold: int) -> None:
        model = self._scratch()
        model.threshold, model.armed = threshold, True
        self._run(SetThreshold(threshold, None), None, model)

    @invariant()
    def agrees_with_model(self) -> None:
        account, model = self.account, self.model
        assert account.available == model.available >= 0
        assert account.held == model.held
        assert account.balance == model.available + model.held
        free_by_grant: dict[str, int] = {}
        for unit in model.units:
            if unit.state == "free":
                free_by_grant[unit.grant] = free_by_grant.get(unit.grant, 0) + 1
        live = {gid: g.remaining for gid, g in account.grants.items() if g.remaining}
        assert live == free_by_grant
        assert set(account.holds) == set(model.holds)
        assert self.crossed == model.crossings

    @invariant()
    def replay_and_snapshot_agree(self) -> None:
        replayed = Account("t1", "a1")
        for event in self.events:
            replayed.apply(event)
        restored = Account.from_snapshot("t1", "a1", self.account.to_snapshot())
        for other in (replayed, restored):
            assert other.to_snapshot() == self.account.to_snapshot()


TestAccountMachine = AccountMachine.TestCase
TestAccountMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)


def _funded(*grants: tuple[int, int, int | None]) -> Account:
    account = Account("t", "a")
    for n, (amount, priority, expires_at) in enumerate(grants):
        for event in account.decide(
            Purchase(amount, "paid", priority, expires_at, f"g{n}", f"tx{n}"), 0
        ):
            account.apply(event)
    return account


def test_consumption_draws_by_priority_then_earliest_expiry() -> None:
    account = _funded((5, 1, None), (5, 0, 900), (5, 0, 100), (5, 2, 50))
    (event,) = account.decide(Consume(12, "api", "t"), 10)
    assert event.allocations == (("g2", 5), ("g1", 5), ("g0", 2))  # type: ignore[union-attr]


def test_a_grant_stops_counting_at_its_expiry_and_an_event_records_it() -> None:
    account = _funded((10, 0, 100), (3, 0, None))
    events = account.decide(ExpireDue(), 100)
    assert events == [GrantExpired("g0", 10)]
    for event in events:
        account.apply(event)
    assert (account.balance, account.available) == (3, 3)
    with pytest.raises(InsufficientCredits):
        account.decide(Consume(4, "api", "t"), 101)


def test_a_hold_outlives_its_grant_and_what_it_releases_then_expires() -> None:
    account = _funded((10, 0, 100))
    for event in account.decide(Reserve(6, 1_000, "job", "h1", "t1"), 0):
        account.apply(event)
    for event in account.decide(ExpireDue(), 100):  # the free 4 expire, the held 6 stay
        account.apply(event)
    assert (account.balance, account.held, account.available) == (6, 6, 0)
    (committed,) = account.decide(CommitHold("h1", 2, "t2"), 150)
    assert (committed.amount, committed.released, committed.expired) == (2, 0, 4)  # type: ignore[union-attr]
    account.apply(committed)
    assert (account.balance, account.held, account.available) == (0, 0, 0)


def test_a_due_hold_is_expired_lazily_and_cannot_be_committed() -> None:
    account = _funded((10, 0, None))
    for event in account.decide(Reserve(4, 50, "job", "h1", "t1"), 0):
        account.apply(event)
    with pytest.raises(HoldNotActive) as refused:
        account.decide(CommitHold("h1", None, "t2"), 50)
    assert refused.value.state == "expired"
    events = account.decide(Consume(10, "api", "t3"), 60)
    assert type(events[0]) is HoldExpired
    assert account.available == 6  # nothing was applied yet: deciding never mutates


@pytest.mark.parametrize("amount", [0, -1, MAX_AMOUNT + 1])
def test_amounts_outside_the_64_bit_range_are_refused(amount: int) -> None:
    account = _funded((10, 0, None))
    with pytest.raises(InvalidAmount):
        account.decide(Consume(amount, "api", "t"), 0)
    with pytest.raises(InvalidAmount):
        Account("t", "b").decide(Purchase(amount, "paid", 0, None, "g", "t"), 0)


def test_balance_cannot_overflow() -> None:
    account = _funded((MAX_AMOUNT, 0, None))
    with pytest.raises(BalanceOverflow):
        account.decide(Purchase(1, "paid", 0, None, "g9", "t"), 0)


def test_accounts_open_once() -> None:
    account = Account("t", "a")
    with pytest.raises(AccountNotFound):
        account.decide(Consume(1, "api", "t"), 0)
    for event in account.decide(OpenAccount({"plan": "pro"}), 0):
        account.apply(event)
    assert account.metadata == {"plan": "pro"}
    with pytest.raises(AccountExists):
        account.decide(OpenAccount(), 0)
