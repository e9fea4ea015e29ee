"""Turn applied events into the rows of one group commit (pure bookkeeping, no I/O)."""

from __future__ import annotations

from typing import Any

import orjson

from shieldx.credits.domain import Account
from shieldx.credits.events import (
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
from shieldx.credits.ids import new_id
from shieldx.credits.records import AccountKey, Plan

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
        self._touched: dict[AccountKey, tuple[Account, int]] = {}

    def add(self, account: Account, events: list[Event], idempotency_key: str | None) -> None:
        """Record EVENTS, already applied to ACCOUNT (so account.version counts them)."""
        plan, now = self.plan, self.now
        tenant, account_id = account.tenant, account.account_id
        version = account.version - len(events)
        for event in events:
            version += 1
            index = len(plan.events)
            type_, amount, data = encode(event)
            plan.events.append(
                (tenant, account_id, version, type_, amount, data, now, idempotency_key)
            )
            kind = type(event)
            if kind is CreditsConsumed:
                continue
            if kind is CreditsReserved:
                assert isinstance(event, CreditsReserved)
                plan.hold_inserts.append(
                    (
                        event.hold_id,
                        tenant,
                        account_id,
                        event.amount,
                        event.reason,
                        now,
                        event.expires_at,
                    )
                )
            elif kind in HOLD_STATES:
                assert isinstance(event, HoldCommitted | HoldCancelled | HoldExpired)
                committed = event.amount if isinstance(event, HoldCommitted) else 0
                plan.hold_updates.append(
                    (
                        event.hold_id,
                        HOLD_STATES[kind],
                        now,
                        committed,
                        event.released,
                        event.expired,
                    )
                )
            elif kind is CreditsPurchased:
                assert isinstance(event, CreditsPurchased)
                plan.grant_inserts.append(
                    (
                        event.grant_id,
                        tenant,
                        account_id,
                        event.kind,
                        event.priority,
                        event.amount,
                        now,
                        event.expires_at,
                    )
                )
            elif kind is GrantExpired:
                assert isinstance(event, GrantExpired)
                plan.grant_updates.append((now, event.amount, event.grant_id))
            elif kind is ThresholdCrossed:
                assert isinstance(event, ThresholdCrossed)
                url = account.webhook_url
                plan.alerts.append(
                    (
                        new_id("al"),
                        tenant,
                        account_id,
                        event.threshold,
                        event.available,
                        index,
                        now,
                        url,
                        "pending" if url else "none",
                        now if url else None,
                    )
                )
        if events:
            key = (tenant, account_id)
            plan.accounts.add(key)
            self._touched[key] = (account, len(plan.events) - 1)

    def command(
        self, tenant: str, key: str, request_hash: str, op: str, status: int, response: str
    ) -> None:
        """Record the answer to an idempotency key."""
        self.plan.commands.append((tenant, key, request_hash, op, status, response, self.now))

    def finish(self) -> Plan:
        """Add the live read model and due snapshots; return the plan."""
        plan, now = self.plan, self.now
        for key, (account, last_index) in self._touched.items():
            plan.balances.append(
                (
                    account.tenant,
                    account.account_id,
                    account.balance,
                    account.held,
                    account.available,
                    account.version,
                    last_index,
                    now,
                )
            )
            if account.version - self._snapshot_versions.get(key, 0) >= self._interval:
                state = orjson.dumps(account.to_snapshot()).decode()
                plan.snapshots.append(
                    (account.tenant, account.account_id, account.version, last_index, now, state)
                )
                self._snapshot_versions[key] = account.version
        return self.plan
