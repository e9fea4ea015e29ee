"""Commands: what a caller asks the ledger for (ids chosen by the service); pure data."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from shieldx.credits.ledger.errors import InvalidAmount, InvalidCommand
from shieldx.credits.ledger.events import MAX_AMOUNT


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


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
# The instants a datetime (and so every rendered answer and report) can hold.
MIN_TIME_US = (datetime.min.replace(tzinfo=UTC) - _EPOCH) // _US
MAX_TIME_US = (datetime.max.replace(tzinfo=UTC) - _EPOCH) // _US
_MAX_SECONDS = MAX_AMOUNT / 1_000_000


def duration_us(seconds: float, what: str) -> int:
    """SECONDS as whole microseconds; InvalidCommand unless it is a finite number above 0."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise InvalidCommand(f"{what} must be a number of seconds (got {seconds!r})")
    if not math.isfinite(seconds) or seconds <= 0:
        raise InvalidCommand(f"{what} must be a finite number of seconds above 0 (got {seconds})")
    # Clamped, not refused: CommandLimits refuses it naming the setting that bounds it.
    us = int(min(seconds, _MAX_SECONDS) * 1_000_000)
    if us <= 0:
        raise InvalidCommand(f"{what} must be at least 0.000001 seconds (got {seconds})")
    return us


def timestamp_us(value: datetime | None, what: str) -> int | None:
    """VALUE as microseconds since the epoch (exact); InvalidCommand if it is naive."""
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidCommand(f"{what} needs a time zone, e.g. 2030-01-01T00:00:00Z")
    return (value - _EPOCH) // _US


@dataclass(frozen=True, slots=True)
class CommandLimits:
    """The bounds every command must keep: checked once, before the writer, for every route."""

    max_hold_ttl_us: int

    def check(self, command: Command) -> None:
        """Raise InvalidAmount/InvalidCommand if COMMAND breaks a limit (it is then not queued)."""
        if isinstance(command, Consume | Purchase | Reserve):
            check_amount(command.amount)
        if isinstance(command, Reserve):
            limit = self.max_hold_ttl_us
            if not 0 < command.ttl <= limit:
                raise InvalidCommand(
                    f"ttl_seconds must be above 0 and at most {limit / 1_000_000:g} "
                    "(credits.max_hold_ttl)"
                )
        elif isinstance(command, Purchase):
            expires = command.expires_at
            if expires is not None and not MIN_TIME_US <= expires <= MAX_TIME_US:
                raise InvalidCommand(
                    "expires_at must fall between 0001-01-01 and 9999-12-31 UTC "
                    "(its offset moved it outside)"
                )
        elif isinstance(command, CommitHold) and command.amount is not None:
            check_amount(command.amount)
        elif isinstance(command, SetThreshold) and not 0 <= command.threshold <= MAX_AMOUNT:
            raise InvalidAmount(f"threshold must be between 0 and {MAX_AMOUNT}")
