"""Rebuild an account aggregate from what the store read: its snapshot plus the events after it."""

from __future__ import annotations

import orjson

from shieldx.credits.domain import Account
from shieldx.credits.errors import InvariantViolation
from shieldx.credits.events import decode
from shieldx.credits.records import AccountKey, StreamLoad


def rebuild_account(key: AccountKey, load: StreamLoad) -> Account:
    """The account as of its last stored event."""
    tenant, account_id = key
    if load.snapshot_state is not None:
        account = Account.from_snapshot(tenant, account_id, orjson.loads(load.snapshot_state))
    else:
        account = Account(tenant, account_id)
    for version, type_, amount, reason, tx, data, balance, held in load.events:
        if version != account.version + 1:
            raise ValueError(
                f"stream {tenant}/{account_id} jumps from version {account.version} to {version}"
            )
        account.apply(decode(type_, amount, reason, tx, data))
        if (account.balance, account.held) != (balance, held):
            raise InvariantViolation(
                f"stream {tenant}/{account_id} records balance {balance}/held {held} at version"
                f" {version}; its events give {account.balance}/{account.held}"
            )
    return account
