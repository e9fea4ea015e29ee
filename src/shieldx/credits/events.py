"""Ledger events: immutable facts, their effect on balance and holds, and their compact encoding.

An event is stored as (type, amount, data): the one number every reader needs is a column,
the rest is a small JSON object. Projections can fold balances from (type, amount) plus,
for hold resolutions, two fields of data, without building objects (see projections.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import orjson

MAX_AMOUNT = 2**63 - 1
Allocation = tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class AccountOpened:
    """An account came into being (explicitly or by its first purchase)."""

    TYPE: ClassVar[str] = "account_opened"
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CreditsPurchased:
    """A grant: credits bought (paid) or given (promotional), drawn by priority then expiry."""

    TYPE: ClassVar[str] = "credits_purchased"
    grant_id: str
    amount: int
    kind: str
    priority: int
    expires_at: int | None
    transaction_id: str


@dataclass(frozen=True, slots=True)
class CreditsConsumed:
    """Credits used, with the amount taken from each grant."""

    TYPE: ClassVar[str] = "credits_consumed"
    amount: int
    allocations: Allocation
    reason: str
    transaction_id: str


@dataclass(frozen=True, slots=True)
class CreditsReserved:
    """A hold: AMOUNT earmarked from grants until it is committed, cancelled or expires."""

    TYPE: ClassVar[str] = "credits_reserved"
    hold_id: str
    amount: int
    expires_at: int
    allocations: Allocation
    reason: str
    transaction_id: str


@dataclass(frozen=True, slots=True)
class HoldCommitted:
    """Part or all of a hold became consumption; the rest was released (or expired with its grant)."""

    TYPE: ClassVar[str] = "hold_committed"
    hold_id: str
    amount: int
    allocations: Allocation
    released: int
    expired: int
    reason: str
    transaction_id: str


@dataclass(frozen=True, slots=True)
class HoldCancelled:
    """A hold was cancelled: its amount is available again (unless its grant expired meanwhile)."""

    TYPE: ClassVar[str] = "hold_cancelled"
    hold_id: str
    released: int
    expired: int
    transaction_id: str


@dataclass(frozen=True, slots=True)
class HoldExpired:
    """A hold's TTL passed before it was committed or cancelled."""

    TYPE: ClassVar[str] = "hold_expired"
    hold_id: str
    released: int
    expired: int


@dataclass(frozen=True, slots=True)
class GrantExpired:
    """A grant reached its expiry; AMOUNT (its unheld remainder) stopped counting."""

    TYPE: ClassVar[str] = "grant_expired"
    grant_id: str
    amount: int


@dataclass(frozen=True, slots=True)
class ThresholdSet:
    """The low-balance alert threshold (0 disables it), armed from now on."""

    TYPE: ClassVar[str] = "threshold_set"
    threshold: int
    webhook_url: str | None


@dataclass(frozen=True, slots=True)
class ThresholdCrossed:
    """Available credits fell below the threshold while the alert was armed."""

    TYPE: ClassVar[str] = "threshold_crossed"
    threshold: int
    available: int


@dataclass(frozen=True, slots=True)
class ThresholdRearmed:
    """Available credits rose back to the threshold or above; the next drop alerts again."""

    TYPE: ClassVar[str] = "threshold_rearmed"
    threshold: int
    available: int


Event = (
    AccountOpened
    | CreditsPurchased
    | CreditsConsumed
    | CreditsReserved
    | HoldCommitted
    | HoldCancelled
    | HoldExpired
    | GrantExpired
    | ThresholdSet
    | ThresholdCrossed
    | ThresholdRearmed
)

# Event types that move money; the history read model lists only these.
MONEY_TYPES = frozenset(
    {
        CreditsPurchased.TYPE,
        CreditsConsumed.TYPE,
        CreditsReserved.TYPE,
        HoldCommitted.TYPE,
        HoldCancelled.TYPE,
        HoldExpired.TYPE,
        GrantExpired.TYPE,
    }
)
RESOLUTION_TYPES = frozenset({HoldCommitted.TYPE, HoldCancelled.TYPE, HoldExpired.TYPE})


def balance_delta(event: Event) -> int:
    """How EVENT changes the balance (credits owned, held or not)."""
    if isinstance(event, CreditsPurchased):
        return event.amount
    if isinstance(event, CreditsConsumed | GrantExpired):
        return -event.amount
    if isinstance(event, HoldCommitted):
        return -(event.amount + event.expired)
    if isinstance(event, HoldCancelled | HoldExpired):
        return -event.expired
    return 0


def held_delta(event: Event) -> int:
    """How EVENT changes the amount on hold."""
    if isinstance(event, CreditsReserved):
        return event.amount
    if isinstance(event, HoldCommitted):
        return -(event.amount + event.released + event.expired)
    if isinstance(event, HoldCancelled | HoldExpired):
        return -(event.released + event.expired)
    return 0


_AVAILABLE: dict[type[Any], Callable[[Any], int]] = {
    CreditsPurchased: lambda e: e.amount,
    CreditsConsumed: lambda e: -e.amount,
    CreditsReserved: lambda e: -e.amount,
    HoldCommitted: lambda e: e.released,
    HoldCancelled: lambda e: e.released,
    HoldExpired: lambda e: e.released,
    GrantExpired: lambda e: -e.amount,
}


def available_delta(event: Event) -> int:
    """How EVENT changes available credits (balance - held)."""
    effect = _AVAILABLE.get(type(event))
    return 0 if effect is None else effect(event)


def _alloc(raw: list[list[Any]]) -> Allocation:
    return tuple((str(g), int(a)) for g, a in raw)


# (amount column, data object) for each type, and back.
_ENCODERS: dict[type[Any], Callable[[Any], tuple[int, dict[str, Any]]]] = {
    AccountOpened: lambda e: (0, {"metadata": dict(e.metadata)} if e.metadata else {}),
    CreditsPurchased: lambda e: (
        e.amount,
        {
            "grant": e.grant_id,
            "kind": e.kind,
            "priority": e.priority,
            "expires_at": e.expires_at,
            "tx": e.transaction_id,
        },
    ),
    CreditsConsumed: lambda e: (
        e.amount,
        {"alloc": e.allocations, "reason": e.reason, "tx": e.transaction_id},
    ),
    CreditsReserved: lambda e: (
        e.amount,
        {
            "hold": e.hold_id,
            "expires_at": e.expires_at,
            "alloc": e.allocations,
            "reason": e.reason,
            "tx": e.transaction_id,
        },
    ),
    HoldCommitted: lambda e: (
        e.amount,
        {
            "hold": e.hold_id,
            "alloc": e.allocations,
            "released": e.released,
            "expired": e.expired,
            "reason": e.reason,
            "tx": e.transaction_id,
        },
    ),
    HoldCancelled: lambda e: (
        e.released + e.expired,
        {"hold": e.hold_id, "released": e.released, "expired": e.expired, "tx": e.transaction_id},
    ),
    HoldExpired: lambda e: (
        e.released + e.expired,
        {"hold": e.hold_id, "released": e.released, "expired": e.expired},
    ),
    GrantExpired: lambda e: (e.amount, {"grant": e.grant_id}),
    ThresholdSet: lambda e: (e.threshold, {"url": e.webhook_url} if e.webhook_url else {}),
    ThresholdCrossed: lambda e: (e.threshold, {"available": e.available}),
    ThresholdRearmed: lambda e: (e.threshold, {"available": e.available}),
}

_DECODERS: dict[str, Callable[[int, dict[str, Any]], Event]] = {
    AccountOpened.TYPE: lambda a, d: AccountOpened(d.get("metadata", {})),
    CreditsPurchased.TYPE: lambda a, d: CreditsPurchased(
        d["grant"], a, d["kind"], d["priority"], d["expires_at"], d["tx"]
    ),
    CreditsConsumed.TYPE: lambda a, d: CreditsConsumed(a, _alloc(d["alloc"]), d["reason"], d["tx"]),
    CreditsReserved.TYPE: lambda a, d: CreditsReserved(
        d["hold"], a, d["expires_at"], _alloc(d["alloc"]), d["reason"], d["tx"]
    ),
    HoldCommitted.TYPE: lambda a, d: HoldCommitted(
        d["hold"], a, _alloc(d["alloc"]), d["released"], d["expired"], d["reason"], d["tx"]
    ),
    HoldCancelled.TYPE: lambda a, d: HoldCancelled(d["hold"], d["released"], d["expired"], d["tx"]),
    HoldExpired.TYPE: lambda a, d: HoldExpired(d["hold"], d["released"], d["expired"]),
    GrantExpired.TYPE: lambda a, d: GrantExpired(d["grant"], a),
    ThresholdSet.TYPE: lambda a, d: ThresholdSet(a, d.get("url")),
    ThresholdCrossed.TYPE: lambda a, d: ThresholdCrossed(a, d["available"]),
    ThresholdRearmed.TYPE: lambda a, d: ThresholdRearmed(a, d["available"]),
}


def encode(event: Event) -> tuple[str, int, str]:
    """(type, amount, data JSON) as stored in the event store."""
    amount, data = _ENCODERS[type(event)](event)
    return event.TYPE, amount, orjson.dumps(data).decode()


def decode(type_: str, amount: int, data: str | bytes) -> Event:
    """Rebuild an event from its stored (type, amount, data)."""
    try:
        decoder = _DECODERS[type_]
    except KeyError:
        raise ValueError(f"unknown event type {type_!r}") from None
    return decoder(amount, orjson.loads(data))


def event_reason(event: Event) -> str:
    """The reason an event records, or '' (history and usage group by it)."""
    return getattr(event, "reason", "")


def event_transaction(event: Event) -> str | None:
    """The transaction id an event belongs to, if it records one."""
    return getattr(event, "transaction_id", None)
