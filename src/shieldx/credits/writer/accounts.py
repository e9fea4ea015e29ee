"""Rebuild an account aggregate from what the store read: its snapshot plus the events after it.

Snapshots and the balance row (where loading finds a stream's head) are derived data,
outside the hash chain: one that disagrees with the events (an edited row, a bug) must not
wedge its account. `load_accounts` checks each snapshot against the event recorded at its
version and the events after it, and when anything disagrees rebuilds that account from all
of its events, found from the event store alone, with a critical log line (never a client
message: the numbers involved are internal).
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson
import structlog

from shieldx.credits.ledger.domain import Account
from shieldx.credits.ledger.errors import InvariantViolation
from shieldx.credits.ledger.events import decode
from shieldx.credits.ledger.ids import now_us
from shieldx.credits.store.base import EventStore
from shieldx.credits.store.records import AccountKey, StreamLoad

log = structlog.get_logger("shieldx.credits")


class SnapshotMismatch(InvariantViolation):
    """An account's snapshot disagrees with its events."""


def rebuild_account(key: AccountKey, load: StreamLoad) -> Account:
    """The account as of its last stored event; SnapshotMismatch if its snapshot is wrong."""
    tenant, account_id = key
    if load.snapshot_state is not None:
        try:
            account = Account.from_snapshot(tenant, account_id, orjson.loads(load.snapshot_state))
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise SnapshotMismatch(f"snapshot of {tenant}/{account_id} is unreadable") from exc
        if account.version != load.snapshot_version or load.anchor != (
            account.balance,
            account.held,
        ):
            raise SnapshotMismatch(
                f"snapshot of {tenant}/{account_id} at version {load.snapshot_version}"
                " disagrees with the event recorded at that version"
            )
    else:
        account = Account(tenant, account_id)
    try:
        _replay(account, load)
    except InvariantViolation as exc:
        if load.snapshot_state is None:
            raise
        raise SnapshotMismatch(str(exc)) from exc
    if load.head_version is not None and account.version != load.head_version:
        raise InvariantViolation(
            f"stream {tenant}/{account_id}: its balance row says version {load.head_version},"
            f" its events reach {account.version}"
        )
    return account


def _replay(account: Account, load: StreamLoad) -> None:
    tenant, account_id = account.tenant, account.account_id
    for version, type_, amount, reason, tx, data, balance, held in load.events:
        if version != account.version + 1:
            raise InvariantViolation(
                f"stream {tenant}/{account_id} jumps from version {account.version} to {version}"
            )
        try:
            account.apply(decode(type_, amount, reason, tx, data))
        except (KeyError, ValueError) as exc:  # a grant or hold the snapshot lacks
            raise InvariantViolation(f"stream {tenant}/{account_id}: {exc!r}") from exc
        if (account.balance, account.held) != (balance, held):
            raise InvariantViolation(
                f"stream {tenant}/{account_id} records balance {balance}/held {held} at version"
                f" {version}; its events give {account.balance}/{account.held}"
            )


def load_accounts(
    store: EventStore, keys: Iterable[AccountKey]
) -> dict[AccountKey, tuple[Account, int]]:
    """Each account, with the version of the snapshot it started from, from its latest snapshot
    and later events; from all of its events (snapshot version 0, so the next write stores a
    good one) when the snapshot disagrees with them. InvariantViolation only if the events
    themselves do not fold."""
    loads = store.load_streams(keys)
    accounts: dict[AccountKey, tuple[Account, int]] = {}
    suspect: list[AccountKey] = []
    for key, load in loads.items():
        try:
            accounts[key] = (rebuild_account(key, load), load.snapshot_version)
        except (InvariantViolation, ValueError, KeyError) as exc:
            log.critical(
                "credits.derived_state_mismatch",
                tenant=key[0],
                account_id=key[1],
                version=load.snapshot_version,
                error=str(exc),
                action="rebuilt from events; run `shieldx credits verify --deep`",
            )
            suspect.append(key)
    if suspect:
        for key, load in store.load_streams(suspect, snapshots=False, trusted=False).items():
            account = rebuild_account(key, load)
            if load.head_position is not None:
                # The commit updates the row only at the version it was decided on: put the
                # events' version back, or every write to the account would conflict.
                store.repair_balance(
                    key,
                    balance=account.balance,
                    held=account.held,
                    version=account.version,
                    position=load.head_position,
                    now=now_us(),
                )
            accounts[key] = (account, 0)
    return accounts
