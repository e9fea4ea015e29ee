"""The account aggregate: commands decide events, events change state. Pure: no I/O, no clock.

Every command method returns the events it would record and never mutates the account;
`apply` is the only mutation. Time comes in as `now` (microseconds since the epoch).
The invariant available = balance - held >= 0 is checked by `decide` over all the events a
command records (expiries included); `grants.allocate` refuses a draw larger than what is
available before that, with the same InsufficientCredits.
"""

from __future__ import annotations

from typing import Any

from shieldx.credits.ledger.commands import (
    MAX_TIME_US,
    CancelHold,
    Command,
    CommitHold,
    Consume,
    ExpireDue,
    OpenAccount,
    Purchase,
    Reserve,
    SetThreshold,
    check_amount,
)
from shieldx.credits.ledger.errors import (
    AccountExists,
    AccountNotFound,
    AmountExceedsHold,
    BalanceOverflow,
    ExpiryInPast,
    HoldNotActive,
    HoldNotFound,
    InsufficientCredits,
    InvalidAmount,
    InvalidCommand,
    InvariantViolation,
)
from shieldx.credits.ledger.events import (
    MAX_AMOUNT,
    AccountOpened,
    Allocation,
    CreditsConsumed,
    CreditsPurchased,
    CreditsReserved,
    Event,
    GrantExpired,
    HoldCancelled,
    HoldCommitted,
    HoldExpired,
    ThresholdCrossed,
    ThresholdRearmed,
    ThresholdSet,
    available_delta,
)
from shieldx.credits.ledger.grants import Grant, Hold, allocate, release

_NEVER = 2**63


class Account:
    """One tenant's credit account: grants, holds, balance and the low-balance alert state."""

    __slots__ = (
        "account_id",
        "balance",
        "grants",
        "held",
        "holds",
        "metadata",
        "next_due",
        "opened",
        "tenant",
        "threshold",
        "threshold_armed",
        "version",
        "webhook_url",
    )

    def __init__(self, tenant: str, account_id: str) -> None:
        self.tenant = tenant
        self.account_id = account_id
        self.version = 0
        self.opened = False
        self.metadata: dict[str, str] = {}
        self.balance = 0
        self.held = 0
        self.grants: dict[str, Grant] = {}
        self.holds: dict[str, Hold] = {}
        self.threshold = 0
        self.threshold_armed = False
        self.webhook_url: str | None = None
        # Earliest expiry of a hold or an unexpired grant (None: not computed since the last
        # change): lets decide() skip the scan for due expiries, the common case.
        self.next_due: int | None = None

    @property
    def available(self) -> int:
        """Credits that can be consumed or reserved now."""
        return self.balance - self.held

    # ----------------------------------------------------------------- deciding
    def decide(self, command: Command, now: int) -> list[Event]:
        """The events COMMAND records at time NOW, due expiries first; raises a LedgerError."""
        next_due = self.next_due
        if next_due is None:
            next_due = self.next_due = self._earliest_expiry()
        if now < next_due:  # nothing expires yet: the common case
            due: list[Event] = []
            base = self
        else:
            due, base = self._with_due(now)
            if not due:
                self.next_due = None  # what was due is gone (a spent grant): recompute later
            if isinstance(command, CommitHold | CancelHold) and any(
                isinstance(e, HoldExpired) and e.hold_id == command.hold_id for e in due
            ):
                raise HoldNotActive(command.hold_id, "expired")
        events = base._decide(command, now)
        if due:
            events = due + events
        if not events:
            return events
        available = self.balance - self.held
        for event in events:
            available += available_delta(event)
        if available < 0:  # the invariant over all the events (grants.allocate checks one draw)
            raise InsufficientCredits(available=base.available, requested=-available)
        if self.threshold <= 0 and type(events[-1]) is not ThresholdSet and len(events) == 1:
            return events  # no alert configured: no threshold events (the common case)
        return events + self._threshold_events(events, available)

    def _earliest_expiry(self) -> int:
        earliest = _NEVER
        for hold in self.holds.values():
            if hold.expires_at < earliest:
                earliest = hold.expires_at
        for grant in self.grants.values():
            if not grant.expired and grant.expires_at is not None and grant.expires_at < earliest:
                earliest = grant.expires_at
        return earliest

    def _decide(self, command: Command, now: int) -> list[Event]:
        kind = type(command)
        if kind is Consume and self.opened:
            assert isinstance(command, Consume)
            check_amount(command.amount)
            allocations = allocate(self.grants, command.amount, self.balance - self.held)
            return [
                CreditsConsumed(command.amount, allocations, command.reason, command.transaction_id)
            ]
        if isinstance(command, Purchase):
            return self._purchase(command, now)
        if isinstance(command, OpenAccount):
            if self.opened:
                raise AccountExists(f"account {self.account_id!r} already exists")
            return [AccountOpened(dict(command.metadata))]
        if isinstance(command, ExpireDue):
            return []  # the due events were computed by decide()
        if not self.opened:
            raise AccountNotFound(f"no account {self.account_id!r} in this tenant")
        if isinstance(command, Reserve):
            return self._reserve(command, now)
        if isinstance(command, CommitHold | CancelHold):
            return self._resolve(command, now)
        if isinstance(command, SetThreshold):
            if not 0 <= command.threshold <= MAX_AMOUNT:
                raise InvalidAmount(f"threshold must be between 0 and {MAX_AMOUNT}")
            return [ThresholdSet(command.threshold, command.webhook_url)]
        raise TypeError(f"unknown command {command!r}")

    def _purchase(self, command: Purchase, now: int) -> list[Event]:
        check_amount(command.amount)
        if command.expires_at is not None and command.expires_at <= now:
            raise ExpiryInPast("expires_at is in the past: a grant must expire after its purchase")
        if self.balance + command.amount > MAX_AMOUNT:
            raise BalanceOverflow(f"the balance would exceed {MAX_AMOUNT}")
        opened: list[Event] = [] if self.opened else [AccountOpened({})]
        return [
            *opened,
            CreditsPurchased(
                command.grant_id,
                command.amount,
                command.kind,
                command.priority,
                command.expires_at,
                command.transaction_id,
            ),
        ]

    def _reserve(self, command: Reserve, now: int) -> list[Event]:
        check_amount(command.amount)
        if command.ttl <= 0:
            raise InvalidAmount("ttl must be positive")
        if now + command.ttl > MAX_TIME_US:
            raise InvalidCommand("ttl_seconds would make the hold expire after 9999-12-31 UTC")
        allocations = allocate(self.grants, command.amount, self.available)
        return [
            CreditsReserved(
                command.hold_id,
                command.amount,
                now + command.ttl,
                allocations,
                command.reason,
                command.transaction_id,
            )
        ]

    def _resolve(self, command: CommitHold | CancelHold, now: int) -> list[Event]:
        hold = self.holds.get(command.hold_id)
        if hold is None:
            raise HoldNotFound(command.hold_id)
        if isinstance(command, CancelHold):
            released, expired = release(self.grants, hold.allocations)
            return [HoldCancelled(hold.hold_id, released, expired, command.transaction_id)]
        amount = hold.amount if command.amount is None else command.amount
        check_amount(amount)
        if amount > hold.amount:
            raise AmountExceedsHold(
                f"cannot commit {amount}: reservation {hold.hold_id} holds {hold.amount}"
            )
        committed, rest = _split(hold.allocations, amount)
        released, expired = release(self.grants, rest)
        return [
            HoldCommitted(
                hold.hold_id,
                amount,
                committed,
                released,
                expired,
                hold.reason,
                command.transaction_id,
            )
        ]

    def due_expiries(self, now: int) -> list[Event]:
        """HoldExpired and GrantExpired events for everything whose time has come by NOW."""
        return self._with_due(now)[0]

    def _with_due(self, now: int) -> tuple[list[Event], Account]:
        """The due expiry events and the state after them (self when nothing is due)."""
        holds = [h for h in self.holds.values() if h.expires_at <= now]
        grants = [
            g
            for g in self.grants.values()
            if not g.expired and g.expires_at is not None and g.expires_at <= now
        ]
        if not holds and not grants:
            return [], self
        base = self.clone()
        events: list[Event] = []
        for hold in sorted(holds, key=lambda h: (h.expires_at, h.hold_id)):
            event: Event = HoldExpired(hold.hold_id, *release(base.grants, hold.allocations))
            base.apply(event)
            events.append(event)
        for grant in sorted(grants, key=lambda g: g.order_key):
            event = GrantExpired(grant.grant_id, base.grants[grant.grant_id].remaining)
            base.apply(event)
            events.append(event)
        return events, base

    def _threshold_events(self, events: list[Event], available: int) -> list[Event]:
        threshold, armed = self.threshold, self.threshold_armed
        for event in events:
            if isinstance(event, ThresholdSet):
                threshold, armed = event.threshold, True
        if threshold <= 0:
            return []
        if armed and available < threshold:
            return [ThresholdCrossed(threshold, available)]
        if not armed and available >= threshold:
            return [ThresholdRearmed(threshold, available)]
        return []

    # ----------------------------------------------------------------- applying
    def apply(self, event: Event) -> None:
        """Change state by one recorded event (the only mutation)."""
        kind = type(event)
        if kind is not CreditsConsumed:
            self.next_due = None  # holds or grants may change: recompute lazily
        if kind is CreditsConsumed:
            assert isinstance(event, CreditsConsumed)
            for gid, amount in event.allocations:
                self.grants[gid].take(amount)
            self.balance -= event.amount
            self._drop_spent([gid for gid, _ in event.allocations])
        elif isinstance(event, CreditsReserved):
            for gid, amount in event.allocations:
                self.grants[gid].hold(amount)
            self.holds[event.hold_id] = Hold(
                event.hold_id, event.amount, event.expires_at, event.allocations, event.reason
            )
            self.held += event.amount
        elif isinstance(event, HoldCommitted | HoldCancelled | HoldExpired):
            self._apply_resolution(event)
        elif isinstance(event, CreditsPurchased):
            self.grants[event.grant_id] = Grant.from_event(event, self.version)
            self.balance += event.amount
        elif isinstance(event, GrantExpired):
            grant = self.grants[event.grant_id]
            if grant.remaining != event.amount:
                raise InvariantViolation(f"grant {event.grant_id} expiry does not match its rest")
            self.balance -= grant.remaining
            grant.remaining = 0
            grant.expired = True
            self._drop_spent([event.grant_id])
        elif isinstance(event, AccountOpened):
            self.opened = True
            self.metadata = dict(event.metadata)
        elif isinstance(event, ThresholdSet):
            self.threshold, self.threshold_armed = event.threshold, True
            self.webhook_url = event.webhook_url
        elif isinstance(event, ThresholdCrossed):
            self.threshold_armed = False
        elif isinstance(event, ThresholdRearmed):
            self.threshold_armed = True
        self.version += 1
        if self.held > self.balance or self.held < 0:
            raise InvariantViolation(f"held {self.held} outside 0..balance {self.balance}")

    def _apply_resolution(self, event: HoldCommitted | HoldCancelled | HoldExpired) -> None:
        hold = self.holds.pop(event.hold_id)
        committed = event.allocations if isinstance(event, HoldCommitted) else ()
        taken, rest = _split(hold.allocations, sum(a for _, a in committed))
        if taken != committed:
            raise InvariantViolation(f"commit of {event.hold_id} does not match its allocations")
        for gid, amount in hold.allocations:
            self.grants[gid].unhold(amount)
        released = expired = 0
        for gid, amount in rest:
            grant = self.grants[gid]
            if grant.expired:
                expired += amount
            else:
                grant.remaining += amount
                released += amount
        if (released, expired) != (event.released, event.expired):
            raise InvariantViolation(f"resolution of {event.hold_id} does not match its grants")
        self.held -= hold.amount
        self.balance -= hold.amount - released
        self._drop_spent([gid for gid, _ in hold.allocations])

    def _drop_spent(self, grant_ids: list[str]) -> None:
        # A grant nothing can refill any more is dropped from state (and from snapshots).
        grants = self.grants
        for gid in grant_ids:
            grant = grants.get(gid)
            if grant is not None and grant.remaining == 0 and grant.spent:
                del grants[gid]

    # ----------------------------------------------------------------- copying
    def clone(self) -> Account:
        """An independent copy (to decide several commands in a row without touching self)."""
        other = Account(self.tenant, self.account_id)
        other.version, other.opened, other.metadata = self.version, self.opened, self.metadata
        other.balance, other.held = self.balance, self.held
        other.grants = {gid: g.copy() for gid, g in self.grants.items()}
        other.holds = dict(self.holds)
        other.threshold, other.threshold_armed = self.threshold, self.threshold_armed
        other.webhook_url = self.webhook_url
        other.next_due = self.next_due
        return other

    def to_snapshot(self) -> dict[str, Any]:
        """The state as plain data (aggregate_snapshots.state)."""
        return {
            "v": self.version,
            "opened": self.opened,
            "metadata": self.metadata,
            "balance": self.balance,
            "held": self.held,
            "grants": [g.to_list() for g in self.grants.values()],
            "holds": [h.to_list() for h in self.holds.values()],
            "threshold": [self.threshold, self.threshold_armed, self.webhook_url],
        }

    @classmethod
    def from_snapshot(cls, tenant: str, account_id: str, state: dict[str, Any]) -> Account:
        """Rebuild an account from to_snapshot() data."""
        account = cls(tenant, account_id)
        account.version = state["v"]
        account.opened = state["opened"]
        account.metadata = dict(state["metadata"])
        account.balance, account.held = state["balance"], state["held"]
        account.grants = {g[0]: Grant.from_list(g) for g in state["grants"]}
        account.holds = {h[0]: Hold.from_list(h) for h in state["holds"]}
        account.threshold, account.threshold_armed, account.webhook_url = state["threshold"]
        return account


def _split(allocations: Allocation, amount: int) -> tuple[Allocation, Allocation]:
    """Split a hold's allocations: the first AMOUNT (in allocation order) and the rest."""
    taken: list[tuple[str, int]] = []
    rest: list[tuple[str, int]] = []
    need = amount
    for gid, alloc in allocations:
        take = min(need, alloc)
        if take:
            taken.append((gid, take))
        if alloc - take:
            rest.append((gid, alloc - take))
        need -= take
    return tuple(taken), tuple(rest)
