"""Rebuild an account aggregate from what the store read: its snapshot plus the events after it.

A snapshot is derived data, outside the hash chain: one that disagrees with the events (an
edited row, a bug) must not wedge its account. `load_accounts` checks each snapshot against
the event recorded at its version and the events after it, and when they disagree rebuilds
that account from all of its events instead, with a critical log line (never a client
message: the numbers involved are internal).
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson
import structlog

from shieldx.credits.domain import Account
from shieldx.credits.errors import InvariantViolation
from shieldx.credits.events import decode
from shieldx.credits.records import AccountKey, StreamLoad
from shieldx.credits.store import EventStore

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
        except SnapshotMismatch as exc:
            log.critical(
                "credits.snapshot_mismatch",
                tenant=key[0],
                account_id=key[1],
                version=load.snapshot_version,
                error=str(exc),
                action="rebuilt from events; run `shieldx credits verify --deep`",
            )
            suspect.append(key)
    if suspect:
        for key, load in store.load_streams(suspect, snapshots=False).items():
            accounts[key] = (rebuild_account(key, load), 0)
    return accounts
