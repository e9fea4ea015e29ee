"""The work units the service submits to the writer: one per API operation, plus linked batches."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shieldx.credits.ledger.commands import (
    CancelHold,
    Command,
    CommitHold,
    Consume,
    ExpireDue,
    OpenAccount,
    Purchase,
    Reserve,
    SetThreshold,
)
from shieldx.credits.ledger.domain import Account
from shieldx.credits.ledger.errors import LedgerError
from shieldx.credits.ledger.events import (
    CreditsPurchased,
    CreditsReserved,
    Event,
    HoldCancelled,
    HoldCommitted,
)
from shieldx.credits.ledger.ids import iso
from shieldx.credits.store.records import AccountKey

Render = Callable[[Account, list[Event], Command], dict[str, Any]]


def _balance(account: Account) -> dict[str, Any]:
    return {"balance": account.balance, "available": account.available}


def _tx(command: Command) -> str:
    tx: str = getattr(command, "transaction_id", "")
    return tx


def _last(events: list[Event], kind: type[Any]) -> Any:
    for event in reversed(events):  # threshold events may follow the main one
        if type(event) is kind:
            return event
    raise LookupError(kind.__name__)


def render_purchase(account: Account, events: list[Event], command: Command) -> dict[str, Any]:
    """201 body of a purchase."""
    grant = _last(events, CreditsPurchased)
    return {
        "transaction_id": grant.transaction_id,
        "account_id": account.account_id,
        "grant_id": grant.grant_id,
        **_balance(account),
    }


def render_consume(account: Account, events: list[Event], command: Command) -> dict[str, Any]:
    """200 body of a consume."""
    return {"transaction_id": _tx(command), **_balance(account)}


def render_reserve(account: Account, events: list[Event], command: Command) -> dict[str, Any]:
    """201 body of a reserve."""
    hold = _last(events, CreditsReserved)
    return {
        "reservation_id": hold.hold_id,
        "transaction_id": hold.transaction_id,
        "amount": hold.amount,
        "expires_at": iso(hold.expires_at),
        **_balance(account),
    }


def render_commit(account: Account, events: list[Event], command: Command) -> dict[str, Any]:
    """200 body of a commit."""
    done = _last(events, HoldCommitted)
    return {
        "transaction_id": done.transaction_id,
        "reservation_id": done.hold_id,
        "committed": done.amount,
        "released": done.released + done.expired,
        **_balance(account),
    }


def render_cancel(account: Account, events: list[Event], command: Command) -> dict[str, Any]:
    """200 body of a cancel."""
    done = _last(events, HoldCancelled)
    return {
        "transaction_id": done.transaction_id,
        "reservation_id": done.hold_id,
        "released": done.released + done.expired,
        **_balance(account),
    }


def render_account(account: Account, events: list[Event], command: Command) -> dict[str, Any]:
    """201 body of an explicit account creation."""
    return {
        "tenant": account.tenant,
        "account_id": account.account_id,
        "metadata": account.metadata,
        "version": account.version,
        **_balance(account),
    }


def render_threshold(account: Account, events: list[Event], command: Command) -> dict[str, Any]:
    """200 body of a threshold change (the service adds the webhook secret)."""
    return {
        "account_id": account.account_id,
        "threshold": account.threshold,
        "webhook_url": account.webhook_url,
        "armed": account.threshold_armed,
        "available": account.available,
    }


RENDERERS: dict[type[Any], tuple[str, int, Render]] = {
    Purchase: ("purchase", 201, render_purchase),
    Consume: ("consume", 200, render_consume),
    Reserve: ("reserve", 201, render_reserve),
    CommitHold: ("commit", 200, render_commit),
    CancelHold: ("cancel", 200, render_cancel),
    OpenAccount: ("open", 201, render_account),
    SetThreshold: ("threshold", 200, render_threshold),
}


@dataclass
class SingleCommand:
    """One command on one account."""

    key: AccountKey
    command: Command
    extra_body: Mapping[str, Any] = field(default_factory=dict)
    sensitive: bool = False

    def __post_init__(self) -> None:
        self.op, self.status, self._render = RENDERERS[type(self.command)]
        self.keys: Sequence[AccountKey] = (self.key,)
        self.commands: Sequence[Command] = (self.command,)
        self._result: tuple[Account, list[Event]] | None = None

    def decide(
        self, accounts: Mapping[AccountKey, Account], now: int
    ) -> list[tuple[Account, list[Event]]]:
        """The command's events on its account."""
        account = accounts[self.key]
        events = account.decide(self.command, now)
        self._result = (account, events)
        return [(account, events)]

    def respond(self) -> tuple[int, dict[str, Any]]:
        """The operation's body, computed from the account after the events."""
        assert self._result is not None
        account, events = self._result
        return self.status, {**self._render(account, events, self.command), **self.extra_body}


@dataclass
class Expiry:
    """The sweeper's work: record due expiries on one account (answers 200 with the count)."""

    key: AccountKey
    op: str = "expire"
    sensitive: bool = False

    def __post_init__(self) -> None:
        self.keys: Sequence[AccountKey] = (self.key,)
        self.commands: Sequence[Command] = ()
        self._count = 0

    def decide(
        self, accounts: Mapping[AccountKey, Account], now: int
    ) -> list[tuple[Account, list[Event]]]:
        """Due HoldExpired/GrantExpired events (none for an unknown account)."""
        account = accounts[self.key]
        if not account.opened:
            return []
        events = account.decide(ExpireDue(), now)
        self._count = len(events)
        return [(account, events)] if events else []

    def respond(self) -> tuple[int, dict[str, Any]]:
        """How many events were recorded."""
        return 200, {"expired": self._count}


class BatchRefused(LedgerError):
    """An operation of an atomic batch was refused, so none was recorded."""

    def __init__(self, index: int, error: LedgerError) -> None:
        super().__init__(f"operation {index} was refused: {error}")
        self.index = index
        self.error = error
        self.slug = error.slug


@dataclass
class LinkedBatch:
    """Several commands, possibly on several accounts: all recorded or (atomic) none."""

    operations: Sequence[tuple[AccountKey, Command]]
    atomic: bool = True
    op: str = "batch"
    sensitive: bool = False

    def __post_init__(self) -> None:
        self.keys: Sequence[AccountKey] = tuple(dict.fromkeys(k for k, _ in self.operations))
        self.commands: Sequence[Command] = tuple(c for _, c in self.operations)
        self._results: list[dict[str, Any]] = []

    def decide(
        self, accounts: Mapping[AccountKey, Account], now: int
    ) -> list[tuple[Account, list[Event]]]:
        """Decide each operation on copies in order; refuse the whole batch if one is refused."""
        copies = {key: accounts[key].clone() for key in self.keys}
        changes: list[tuple[Account, list[Event]]] = []
        self._results = []
        for index, (key, command) in enumerate(self.operations):
            op, status, render = RENDERERS[type(command)]
            try:
                events = copies[key].decide(command, now)
            except LedgerError as exc:
                if self.atomic:
                    raise BatchRefused(index, exc) from exc
                self._results.append(
                    {"op": op, "status": 409, "error": exc.slug, "detail": str(exc)}
                )
                continue
            for event in events:
                copies[key].apply(event)
            changes.append((accounts[key], events))
            self._results.append(
                {"op": op, "status": status, **render(copies[key], events, command)}
            )
        return changes

    def respond(self) -> tuple[int, dict[str, Any]]:
        """Every operation's result, in order."""
        return 200, {"atomic": self.atomic, "results": self._results}
