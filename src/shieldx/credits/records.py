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
    """Every row one group commit writes. Event-relative fields hold indexes into `events`."""

    # (tenant, account_id, version, type, amount, data, at_us, idempotency_key)
    events: list[Row] = field(default_factory=list)
    accounts: set[AccountKey] = field(default_factory=set)
    # (tenant, key, request_hash, op, status, response, created_at_us)
    commands: list[Row] = field(default_factory=list)
    # (tenant, account_id, balance, held, available, version, last_event_index, at_us)
    balances: list[Row] = field(default_factory=list)
    # (hold_id, tenant, account_id, amount, reason, created_at_us, expires_at_us)
    hold_inserts: list[Row] = field(default_factory=list)
    # (hold_id, state, resolved_at_us, committed, released, expired)
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


@dataclass(frozen=True)
class CommitResult:
    """Where a group commit landed, and what other writers changed since our previous one."""

    first_position: int
    head_position: int
    head_hash: str
    foreign: frozenset[AccountKey]


@dataclass(frozen=True)
class StreamLoad:
    """What loading one account read: its latest snapshot and the events after it."""

    snapshot_version: int
    snapshot_state: str | None
    events: list[Row]  # (version, type, amount, data)


class StoredCommand(NamedTuple):
    """A command-log entry: the original answer to an idempotency key."""

    request_hash: str
    op: str
    status: int
    response: str
