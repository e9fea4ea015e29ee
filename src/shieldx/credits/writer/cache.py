"""The writer's memory: cached aggregates, which of them in-flight batches touched, holds seen.

Everything here can be dropped at any moment and rebuilt from the database, except that an
account touched by a batch still in flight must not be dropped (and so not re-read): the
database does not have that batch yet. `pins` records the last batch that touched each
account; `committed_seq` is the last batch that committed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from shieldx.credits.ledger.domain import Account
from shieldx.credits.ledger.errors import HoldNotActive, HoldNotFound, LedgerError
from shieldx.credits.ledger.events import CreditsReserved, Event
from shieldx.credits.store.records import AccountKey
from shieldx.credits.writer.plans import HOLD_STATES

_HOLD_STATE: dict[type[Any], str] = {CreditsReserved: "active", **HOLD_STATES}


class LedgerCache:
    """LRU of account aggregates plus the hold index, bounded by SIZE entries each."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.accounts: OrderedDict[AccountKey, Account] = OrderedDict()
        self.snapshot_versions: dict[AccountKey, int] = {}
        self.holds: OrderedDict[str, tuple[str, str, str]] = OrderedDict()
        self.pins: dict[AccountKey, int] = {}
        self.committed_seq = 0

    def pinned(self, key: AccountKey) -> bool:
        """Whether a batch that touched KEY is still in flight."""
        return self.pins.get(key, 0) > self.committed_seq

    def forget(self, keys: Iterable[AccountKey], *, unless_pinned: bool = False) -> None:
        """Drop accounts (they will be loaded again from the database)."""
        for key in keys:
            if unless_pinned and self.pinned(key):
                continue
            self.accounts.pop(key, None)
            self.snapshot_versions.pop(key, None)
            self.pins.pop(key, None)

    def evict(self) -> None:
        """Trim to the size bound, oldest first, never an account a batch in flight touched."""
        accounts = self.accounts
        while len(accounts) > self.size:
            key = next(iter(accounts))
            if self.pinned(key):
                accounts.move_to_end(key)
                break
            self.forget([key])
        while len(self.holds) > self.size:
            self.holds.popitem(last=False)

    def note_hold(self, account: Account, event: Event) -> None:
        """Remember a hold's account and state from an event just applied."""
        state = _HOLD_STATE.get(type(event))
        if state is not None:
            hold_id: str = event.hold_id  # type: ignore[union-attr]
            self.holds[hold_id] = (account.tenant, account.account_id, state)
            self.holds.move_to_end(hold_id)

    def resolved_hold(self, exc: HoldNotFound) -> LedgerError:
        """What to answer for a hold the account no longer has: the state it ended in."""
        known = self.holds.get(exc.hold_id)
        if known is None:
            return exc
        state = known[2] if known[2] != "active" else "resolved"
        return HoldNotActive(exc.hold_id, state)
