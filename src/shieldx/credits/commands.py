"""Commands: what a caller asks the ledger for (ids chosen by the service); pure data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from shieldx.credits.errors import InvalidAmount
from shieldx.credits.events import MAX_AMOUNT


@dataclass(frozen=True, slots=True)
class OpenAccount:
    """Create the account explicitly."""

    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Purchase:
    """Add a grant (opening the account if needed)."""

    amount: int
    kind: str
    priority: int
    expires_at: int | None
    grant_id: str
    transaction_id: str


@dataclass(frozen=True, slots=True)
class Consume:
    """Use credits now."""

    amount: int
    reason: str
    transaction_id: str


@dataclass(frozen=True, slots=True)
class Reserve:
    """Put credits on hold until now + ttl."""

    amount: int
    ttl: int
    reason: str
    hold_id: str
    transaction_id: str


@dataclass(frozen=True, slots=True)
class CommitHold:
    """Post all (amount None) or part of a hold; release the rest."""

    hold_id: str
    amount: int | None
    transaction_id: str


@dataclass(frozen=True, slots=True)
class CancelHold:
    """Release a hold."""

    hold_id: str
    transaction_id: str


@dataclass(frozen=True, slots=True)
class SetThreshold:
    """Alert when available credits fall below THRESHOLD."""

    threshold: int
    webhook_url: str | None


@dataclass(frozen=True, slots=True)
class ExpireDue:
    """Record the expiry of every hold and grant whose time has come (the sweeper's command)."""


Command = (
    OpenAccount | Purchase | Consume | Reserve | CommitHold | CancelHold | SetThreshold | ExpireDue
)


def check_amount(amount: int, what: str = "amount") -> None:
    """Raise InvalidAmount unless 1 <= amount <= 2^63-1."""
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_AMOUNT:
        raise InvalidAmount(f"{what} must be an integer between 1 and {MAX_AMOUNT} (got {amount})")
