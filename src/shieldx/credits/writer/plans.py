"""Turn applied events into the rows of one group commit (pure bookkeeping, no I/O)."""

from __future__ import annotations

from typing import Any

import orjson

from shieldx.credits.ledger.domain import Account
from shieldx.credits.ledger.events import (
    CreditsConsumed,
    CreditsPurchased,
    CreditsReserved,
    Event,
    GrantExpired,
    HoldCancelled,
    HoldCommitted,
    HoldExpired,
    ThresholdCrossed,
    encode,
)
from shieldx.credits.ledger.ids import new_id
from shieldx.credits.store.records import AccountKey, Plan

HOLD_STATES: dict[type[Any], str] = {
    HoldCommitted: "committed",
    HoldCancelled: "cancelled",
    HoldExpired: "expired",
}


class PlanBuilder:
    """Collects the rows of one batch: events, live read model, holds, grants, snapshots, alerts."""

    def __init__(self, now: int, snapshot_interval: int, snapshot_versions: dict[AccountKey, int]):
        self.now = now
        self.plan = Plan()
        self._interval = snapshot_interval
        self._snapshot_versions = snapshot_versions
        # account key -> [account, index of its last event, version before this batch]
        self._touched: dict[AccountKey, list[Any]] = {}

    def event(self, account: Account, event: Event, idempotency_key: str | None) -> None:
        """Record EVENT, just applied to ACCOUNT (so the account shows its effect)."""
        plan, now = self.plan, self.now
        tenant, account_id = account.tenant, account.account_id
        events = plan.events
        index = len(events)
        type_, amount, reason, tx, data = encode(event)
        events.append(
            (
                tenant, account_id, account.version, type_, amount, account.balance, account.held,
                reason, tx, data, now, idempotency_key,
            )
        )  # fmt: skip
        key = (tenant, account_id)
        touched = self._touched.get(key)
        if touched is None:
            self._touched[key] = [account, index, account.version - 1]
        else:
            touched[1] = index
        kind = type(event)
        if kind is CreditsConsumed:
            return
        if kind is CreditsReserved:
            assert isinstance(event, CreditsReserved)
            plan.hold_inserts.append(
                (
                    event.hold_id, tenant, account_id, event.amount, event.reason, now,
                    event.expires_at,
                )
            )  # fmt: skip
        elif kind in HOLD_STATES:
            assert isinstance(event, HoldCommitted | HoldCancelled | HoldExpired)
            committed = event.amount if isinstance(event, HoldCommitted) else 0
            plan.hold_updates.append(
                (HOLD_STATES[kind], now, committed, event.released, event.expired, event.hold_id)
            )
        elif kind is CreditsPurchased:
            assert isinstance(event, CreditsPurchased)
            plan.grant_inserts.append(
                (
                    event.grant_id, tenant, account_id, event.kind, event.priority, event.amount,
                    now, event.expires_at,
                )
            )  # fmt: skip
        elif kind is GrantExpired:
            assert isinstance(event, GrantExpired)
            plan.grant_updates.append((now, event.amount, event.grant_id))
        elif kind is ThresholdCrossed:
            assert isinstance(event, ThresholdCrossed)
            url = account.webhook_url
            plan.alerts.append(
                (
                    new_id("al"), tenant, account_id, event.threshold, event.available, index,
                    now, url, "pending" if url else "none", now if url else None,
                )
            )  # fmt: skip

    def command(
        self, tenant: str, key: str, request_hash: str, op: str, status: int, response: str
    ) -> None:
        """Record the answer to an idempotency key."""
        self.plan.commands.append((tenant, key, request_hash, op, status, response, self.now))

    def finish(self) -> Plan:
        """Add the live read model and due snapshots; return the plan."""
        plan, now = self.plan, self.now
        balances = plan.balances
        versions, interval = self._snapshot_versions, self._interval
        for key, (account, last_index, base) in self._touched.items():
            version = account.version
            balances.append(
                (
                    key[0], key[1], account.balance, account.held, account.balance - account.held,
                    version, base, last_index, now,
                )
            )  # fmt: skip
            if version - versions.get(key, 0) >= interval:
                state = orjson.dumps(account.to_snapshot()).decode()
                plan.snapshots.append((key[0], key[1], version, last_index, now, state))
                versions[key] = version
        return plan
