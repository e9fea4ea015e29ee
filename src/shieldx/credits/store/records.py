"""What the store and the writer exchange: the rows of a group commit and what came back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

AccountKey = tuple[str, str]
Row = tuple[Any, ...]


class StoreConflict(Exception):
    """Another writer changed what this transaction depends on; reload and retry."""

    def __init__(self, accounts: frozenset[AccountKey] | None) -> None:
        super().__init__("a concurrent writer changed the same accounts or idempotency keys")
        self.accounts = accounts


class StoreUnavailable(Exception):
    """The database could not complete the transaction (locked, gone, out of space)."""


@dataclass
class Plan:
    """Every row one group commit writes. Event-relative fields hold indexes into `events`.

    It crosses to the commit process as the plain tuple `wire()` (marshal), so every field
    is a list of tuples of strings, integers and None.
    """

    # (tenant, account_id, version, type, amount, balance, held, reason, tx, data, at_us,
    #  idempotency_key); the committer adds position, prev and hash
    events: list[Row] = field(default_factory=list)
    # (tenant, key, request_hash, op, status, response, created_at_us)
    commands: list[Row] = field(default_factory=list)
    # (tenant, account_id, balance, held, available, version, base_version, last_event_index,
    #  at_us): base_version is the version the commands were decided on (0: a new account)
    balances: list[Row] = field(default_factory=list)
    # (hold_id, tenant, account_id, amount, reason, created_at_us, expires_at_us)
    hold_inserts: list[Row] = field(default_factory=list)
    # (state, resolved_at_us, committed, released, expired, hold_id)
    hold_updates: list[Row] = field(default_factory=list)
    # (grant_id, tenant, account_id, kind, priority, amount, created_at_us, expires_at_us)
    grant_inserts: list[Row] = field(default_factory=list)
    # (expired_at_us, expired_amount, grant_id)
    grant_updates: list[Row] = field(default_factory=list)
    # (tenant, account_id, version, last_event_index, at_us, state)
    snapshots: list[Row] = field(default_factory=list)
    # (tenant, account_id, threshold, webhook_url, webhook_secret, updated_at_us)
    thresholds: list[Row] = field(default_factory=list)
    # (alert_id, tenant, account_id, threshold, available, event_index, at_us, url, delivery,
    #  next_attempt_at_us)
    alerts: list[Row] = field(default_factory=list)
    # (transaction_id, tenant, account_id, provider, reference, card_last4, details, key_id, at)
    payments: list[Row] = field(default_factory=list)

    def is_empty(self) -> bool:
        """Nothing to write (every command was refused or answered from the command log)."""
        return not (self.events or self.commands or self.thresholds or self.payments)

    def wire(self) -> tuple[list[Row], ...]:
        """The plan as a tuple of its row lists (field order), for the commit process."""
        return (
            self.events,
            self.commands,
            self.balances,
            self.hold_inserts,
            self.hold_updates,
            self.grant_inserts,
            self.grant_updates,
            self.snapshots,
            self.thresholds,
            self.alerts,
            self.payments,
        )

    @property
    def accounts(self) -> set[AccountKey]:
        """The accounts whose streams this plan appends to."""
        return {(row[0], row[1]) for row in self.balances}


@dataclass(frozen=True)
class CommitResult:
    """Where a group commit landed, and what other writers changed since our previous one."""

    first_position: int
    head_position: int
    head_hash: str
    foreign: frozenset[AccountKey]
    projected: int  # where the history and usage projections stand after the commit


@dataclass(frozen=True)
class StreamLoad:
    """What loading one account read: its latest snapshot and the events after it."""

    snapshot_version: int
    snapshot_state: str | None
    events: list[Row]  # (version, type, amount, reason, tx, data), oldest first
    # (balance, held) recorded by the event at snapshot_version: the snapshot must agree.
    anchor: tuple[int, int] | None = None
    head_version: int | None = None  # the version the stream's head row claims
    head_position: int | None = None  # and the position of that event


class StoredCommand(NamedTuple):
    """A command-log entry: the original answer to an idempotency key."""

    request_hash: str
    op: str
    status: int
    response: str
