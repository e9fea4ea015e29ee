"""Grants and holds inside an account: drawing order, holding and releasing (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shieldx.credits.ledger.errors import InsufficientCredits, InvariantViolation
from shieldx.credits.ledger.events import Allocation, CreditsPurchased

_NEVER = 2**63


class Grant:
    """A purchase's credits: what is left free, what is earmarked by holds, when it ends."""

    __slots__ = (
        "expired",
        "expires_at",
        "grant_id",
        "held",
        "kind",
        "order_key",
        "priority",
        "remaining",
        "seq",
    )

    def __init__(
        self,
        grant_id: str,
        kind: str,
        priority: int,
        expires_at: int | None,
        seq: int,
        remaining: int,
        held: int = 0,
        expired: bool = False,
    ) -> None:
        self.grant_id = grant_id
        self.kind = kind
        self.priority = priority
        self.expires_at = expires_at
        self.seq = seq
        self.remaining = remaining
        self.held = held
        self.expired = expired
        # Drawing order: lower priority value first, then earliest expiry, then oldest.
        self.order_key = (priority, _NEVER if expires_at is None else expires_at, seq)

    @classmethod
    def from_event(cls, event: CreditsPurchased, seq: int) -> Grant:
        """The grant a purchase creates."""
        return cls(event.grant_id, event.kind, event.priority, event.expires_at, seq, event.amount)

    @property
    def spent(self) -> bool:
        """Nothing left and nothing can come back (no hold earmarks any of it)."""
        return self.remaining == 0 and self.held == 0 and (self.expired or self.expires_at is None)

    def take(self, amount: int) -> None:
        """Consume AMOUNT of the free remainder."""
        if amount > self.remaining or self.expired:
            raise InvariantViolation(f"grant {self.grant_id} cannot give {amount}")
        self.remaining -= amount

    def hold(self, amount: int) -> None:
        """Earmark AMOUNT of the free remainder for a hold."""
        self.take(amount)
        self.held += amount

    def unhold(self, amount: int) -> None:
        """A hold let go of AMOUNT (the caller decides where it goes)."""
        if amount > self.held:
            raise InvariantViolation(f"grant {self.grant_id} holds less than {amount}")
        self.held -= amount

    def copy(self) -> Grant:
        """An independent copy."""
        return Grant(*self.to_list())

    def to_list(self) -> list[Any]:
        """Compact plain data for snapshots."""
        return [
            self.grant_id,
            self.kind,
            self.priority,
            self.expires_at,
            self.seq,
            self.remaining,
            self.held,
            self.expired,
        ]

    @classmethod
    def from_list(cls, data: list[Any]) -> Grant:
        """Rebuild from to_list()."""
        return cls(*data)


@dataclass(frozen=True, slots=True)
class Hold:
    """An active reservation and the grant amounts it earmarks."""

    hold_id: str
    amount: int
    expires_at: int
    allocations: Allocation
    reason: str

    def to_list(self) -> list[Any]:
        """Compact plain data for snapshots."""
        return [
            self.hold_id,
            self.amount,
            self.expires_at,
            [list(a) for a in self.allocations],
            self.reason,
        ]

    @classmethod
    def from_list(cls, data: list[Any]) -> Hold:
        """Rebuild from to_list()."""
        hold_id, amount, expires_at, allocations, reason = data
        return cls(hold_id, amount, expires_at, tuple((g, a) for g, a in allocations), reason)


def allocate(grants: Mapping[str, Grant], amount: int, available: int) -> Allocation:
    """Which grants AMOUNT is drawn from: by priority, then earliest expiry, then age."""
    if amount > available:
        raise InsufficientCredits(available=available, requested=amount)
    taken: list[tuple[str, int]] = []
    need = amount
    for grant in sorted(grants.values(), key=_order):
        if grant.remaining <= 0 or grant.expired:
            continue
        take = min(need, grant.remaining)
        taken.append((grant.grant_id, take))
        need -= take
        if need == 0:
            return tuple(taken)
    raise InsufficientCredits(available=amount - need, requested=amount)


def _order(grant: Grant) -> tuple[int, int, int]:
    return grant.order_key


def release(grants: Mapping[str, Grant], allocations: Allocation) -> tuple[int, int]:
    """(released, expired): what ALLOCATIONS give back to live grants and what is lost with expired ones."""
    released = expired = 0
    for gid, amount in allocations:
        if grants[gid].expired:
            expired += amount
        else:
            released += amount
    return released, expired
