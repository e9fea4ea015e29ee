"""Why the ledger refuses a command; the service maps each to a problem type and status."""

from __future__ import annotations


class LedgerError(Exception):
    """A command the ledger refuses; nothing of it is recorded."""

    slug = "ledger-error"


class InvalidAmount(LedgerError):
    """An amount outside 1..2^63-1 (or a bad ttl/threshold)."""

    slug = "invalid-amount"


class InvalidCommand(LedgerError):
    """A field outside its limit: a ttl above credits.max_hold_ttl, a time no calendar holds."""

    slug = "validation-error"


class BalanceOverflow(LedgerError):
    """The balance would leave the 64-bit range."""

    slug = "balance-overflow"


class ExpiryInPast(LedgerError):
    """A purchase whose grant would already have expired."""

    slug = "expiry-in-past"


class InsufficientCredits(LedgerError):
    """Available credits do not cover the request."""

    slug = "insufficient-credits"

    def __init__(self, *, available: int, requested: int) -> None:
        super().__init__(f"insufficient credits: {requested} requested, {available} available")
        self.available = available
        self.requested = requested


class AccountNotFound(LedgerError):
    """The account does not exist (in this tenant)."""

    slug = "account-not-found"


class AccountExists(LedgerError):
    """The account was already opened."""

    slug = "account-exists"


class HoldNotFound(LedgerError):
    """No active hold with this id on the account (the service looks for its final state)."""

    slug = "reservation-not-found"

    def __init__(self, hold_id: str) -> None:
        super().__init__(f"no reservation {hold_id!r}")
        self.hold_id = hold_id


class HoldNotActive(LedgerError):
    """The hold was already committed, cancelled or expired: it resolves exactly once."""

    slug = "reservation-not-active"

    def __init__(self, hold_id: str, state: str) -> None:
        super().__init__(f"reservation {hold_id} is already {state}")
        self.hold_id = hold_id
        self.state = state


class AmountExceedsHold(LedgerError):
    """A commit asked for more than the hold holds."""

    slug = "amount-exceeds-reservation"


class CrossShardBatch(LedgerError):
    """A batch names accounts on several shards (use /credits/transfer between two)."""

    slug = "batch-spans-shards"

    def __init__(self, shards: list[str]) -> None:
        super().__init__(
            f"this batch names accounts on shards {', '.join(shards)}; a batch runs on one "
            "shard: split it per shard, or move credits between two accounts with "
            "/credits/transfer"
        )
        self.shards = shards


class InvariantViolation(Exception):
    """A recorded event contradicts the state: a bug or a corrupted store, never a user error."""
