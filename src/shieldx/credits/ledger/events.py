"""Ledger events: immutable facts, their effect on balance and holds, and their compact encoding.

An event is stored as columns - type, amount, reason, transaction id and, added by the
writer, the account's balance and held amount after it - plus a small JSON object for the
rest (grant and hold ids, allocations, expiries). The read models are computed from the
columns alone, in SQL (see projections/runner.py); only rebuilding an aggregate reads the JSON.
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


def _json(data: dict[str, Any]) -> str:
    return orjson.dumps(data).decode()


# Each type's (amount column, reason, transaction id, data JSON or ''). What read models
# need is a column (reason, transaction id; the store adds the balance after the event);
# the rest - grant and hold ids, allocations, expiries - is a small JSON object.
_ENCODERS: dict[type[Any], Callable[[Any], tuple[int, str, str | None, str]]] = {
    AccountOpened: lambda e: (
        0,
        "",
        None,
        _json({"metadata": dict(e.metadata)}) if e.metadata else "",
    ),
    CreditsPurchased: lambda e: (
        e.amount,
        "",
        e.transaction_id,
        _json(
            {
                "grant": e.grant_id,
                "kind": e.kind,
                "priority": e.priority,
                "expires_at": e.expires_at,
            }
        ),
    ),
    CreditsConsumed: lambda e: (
        e.amount,
        e.reason,
        e.transaction_id,
        _json({"alloc": e.allocations}),
    ),
    CreditsReserved: lambda e: (
        e.amount,
        e.reason,
        e.transaction_id,
        _json({"hold": e.hold_id, "expires_at": e.expires_at, "alloc": e.allocations}),
    ),
    HoldCommitted: lambda e: (
        e.amount,
        e.reason,
        e.transaction_id,
        _json(
            {
                "hold": e.hold_id,
                "alloc": e.allocations,
                "released": e.released,
                "expired": e.expired,
            }
        ),
    ),
    HoldCancelled: lambda e: (
        e.released + e.expired,
        "",
        e.transaction_id,
        _json({"hold": e.hold_id, "released": e.released, "expired": e.expired}),
    ),
    HoldExpired: lambda e: (
        e.released + e.expired,
        "",
        None,
        _json({"hold": e.hold_id, "released": e.released, "expired": e.expired}),
    ),
    GrantExpired: lambda e: (e.amount, "", None, _json({"grant": e.grant_id})),
    ThresholdSet: lambda e: (
        e.threshold,
        "",
        None,
        _json({"url": e.webhook_url}) if e.webhook_url else "",
    ),
    ThresholdCrossed: lambda e: (e.threshold, "", None, _json({"available": e.available})),
    ThresholdRearmed: lambda e: (e.threshold, "", None, _json({"available": e.available})),
}

Decoder = Callable[[int, str, Any, dict[str, Any]], Event]
_DECODERS: dict[str, Decoder] = {
    AccountOpened.TYPE: lambda a, r, t, d: AccountOpened(d.get("metadata", {})),
    CreditsPurchased.TYPE: lambda a, r, t, d: CreditsPurchased(
        d["grant"], a, d["kind"], d["priority"], d["expires_at"], t
    ),
    CreditsConsumed.TYPE: lambda a, r, t, d: CreditsConsumed(a, _alloc(d["alloc"]), r, t),
    CreditsReserved.TYPE: lambda a, r, t, d: CreditsReserved(
        d["hold"], a, d["expires_at"], _alloc(d["alloc"]), r, t
    ),
    HoldCommitted.TYPE: lambda a, r, t, d: HoldCommitted(
        d["hold"], a, _alloc(d["alloc"]), d["released"], d["expired"], r, t
    ),
    HoldCancelled.TYPE: lambda a, r, t, d: HoldCancelled(d["hold"], d["released"], d["expired"], t),
    HoldExpired.TYPE: lambda a, r, t, d: HoldExpired(d["hold"], d["released"], d["expired"]),
    GrantExpired.TYPE: lambda a, r, t, d: GrantExpired(d["grant"], a),
    ThresholdSet.TYPE: lambda a, r, t, d: ThresholdSet(a, d.get("url")),
    ThresholdCrossed.TYPE: lambda a, r, t, d: ThresholdCrossed(a, d["available"]),
    ThresholdRearmed.TYPE: lambda a, r, t, d: ThresholdRearmed(a, d["available"]),
}
_EMPTY: dict[str, Any] = {}


def encode(event: Event) -> tuple[str, int, str, str | None, str]:
    """(type, amount, reason, transaction id, data JSON or '') as stored in the event store."""
    amount, reason, tx, data = _ENCODERS[type(event)](event)
    return event.TYPE, amount, reason, tx, data


def decode(type_: str, amount: int, reason: str, tx: str | None, data: str | bytes | None) -> Event:
    """Rebuild an event from its stored (type, amount, reason, transaction id, data)."""
    try:
        decoder = _DECODERS[type_]
    except KeyError:
        raise ValueError(f"unknown event type {type_!r}") from None
    return decoder(amount, reason, tx, orjson.loads(data) if data else _EMPTY)


def event_reason(event: Event) -> str:
    """The reason an event records, or '' (history and usage group by it)."""
    return getattr(event, "reason", "")


def event_transaction(event: Event) -> str | None:
    """The transaction id an event belongs to, if it records one."""
    return getattr(event, "transaction_id", None)
