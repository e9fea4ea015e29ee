"""Reads: balances from the read model, time travel from events, history pages, alerts.

All functions are blocking (call them through anyio.to_thread) and never replay more than
one account's events after its latest snapshot.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
import sqlalchemy as sa

from shieldx.credits.domain import Account
from shieldx.credits.events import MONEY_TYPES, decode
from shieldx.credits.operations import iso
from shieldx.credits.tables import aggregate_snapshots, alerts, balances, event_store, history
from shieldx.platform.db import Database


def balance(db: Database, tenant: str, account_id: str) -> dict[str, Any] | None:
    """The live read model's row for one account (None if it has no events)."""
    query = sa.select(balances).where(
        balances.c.tenant == tenant, balances.c.account_id == account_id
    )
    with db.read() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    return {
        "account_id": account_id,
        "tenant": tenant,
        "balance": row.balance,
        "held": row.held,
        "available": row.available,
        "version": row.version,
        "as_of_position": row.last_position,
    }


def account_as_of(
    db: Database,
    tenant: str,
    account_id: str,
    *,
    position: int | None = None,
    at_us: int | None = None,
) -> tuple[Account, int] | None:
    """The account rebuilt from events up to POSITION (or time AT_US), with its last position."""
    snap, stream = aggregate_snapshots.c, event_store.c
    snapshot_query = (
        sa.select(snap.version, snap.position, snap.state)
        .where(snap.tenant == tenant, snap.account_id == account_id)
        .order_by(snap.version.desc())
        .limit(1)
    )
    events_query = (
        sa.select(stream.position, stream.version, stream.type, stream.amount, stream.data)
        .where(stream.tenant == tenant, stream.account_id == account_id)
        .order_by(stream.version)
    )
    if position is not None:
        snapshot_query = snapshot_query.where(snap.position <= position)
        events_query = events_query.where(stream.position <= position)
    if at_us is not None:
        snapshot_query = snapshot_query.where(snap.at_us <= at_us)
        events_query = events_query.where(stream.at_us <= at_us)
    with db.read() as conn:
        found = conn.execute(snapshot_query).first()
        account = Account(tenant, account_id)
        last = 0
        if found is not None:
            account = Account.from_snapshot(tenant, account_id, orjson.loads(found.state))
            last = found.position
        rows = conn.execute(events_query.where(stream.version > account.version)).all()
    for row in rows:
        account.apply(decode(row.type, row.amount, row.data))
        last = row.position
    if account.version == 0:
        return None
    return account, last


def encode_cursor(position: int) -> str:
    """An opaque keyset cursor."""
    return base64.urlsafe_b64encode(f"p{position}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The position inside a cursor; ValueError if it is not one of ours."""
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    if not raw.startswith("p") or not raw[1:].isdigit():
        raise ValueError("malformed cursor")
    return int(raw[1:])


def history_page(
    db: Database,
    tenant: str,
    *,
    account_id: str | None,
    limit: int,
    cursor: int | None,
    types: list[str] | None,
    as_of: int | None,
    as_of_us: int | None,
) -> dict[str, Any]:
    """Newest first, LIMIT entries after CURSOR (keyset pagination on the global position).

    One account's page walks the event store's (tenant, account_id, version) index backwards
    and joins history rows by position, so history needs no per-account index of its own
    (one random B-tree insert less per event for the projection).
    """
    h, e = history.c, event_store.c
    if account_id is not None:
        query = (
            sa.select(history)
            .join(event_store, e.position == h.position)
            .where(e.tenant == tenant, e.account_id == account_id)
            .order_by(e.version.desc())
        )
        position = e.position
    else:
        query = sa.select(history).where(h.tenant == tenant).order_by(h.position.desc())
        position = h.position
    if cursor is not None:
        query = query.where(position < cursor)
    if types:
        query = query.where(h.type.in_([t for t in types if t in MONEY_TYPES]))
    if as_of is not None:
        query = query.where(position <= as_of)
    if as_of_us is not None:
        query = query.where(h.at_us <= as_of_us)
    with db.read() as conn:
        rows = conn.execute(query.limit(limit + 1)).all()
    items = [
        {
            "position": r.position,
            "account_id": r.account_id,
            "type": r.type,
            "amount": r.amount,
            "balance_after": r.balance_after,
            "available_after": r.available_after,
            "at": iso(r.at_us),
            "reason": r.reason,
            "transaction_id": r.transaction_id,
        }
        for r in rows[:limit]
    ]
    more = len(rows) > limit
    return {"items": items, "next_cursor": encode_cursor(items[-1]["position"]) if more else None}


def alert_page(
    db: Database, tenant: str, *, account_id: str | None, limit: int, cursor: str | None
) -> dict[str, Any]:
    """Stored alerts, newest first (alert ids are time-ordered)."""
    a = alerts.c
    query = sa.select(alerts).where(a.tenant == tenant).order_by(a.alert_id.desc())
    if account_id is not None:
        query = query.where(a.account_id == account_id)
    if cursor is not None:
        query = query.where(a.alert_id < cursor)
    with db.read() as conn:
        rows = conn.execute(query.limit(limit + 1)).all()
    items = [
        {
            "alert_id": r.alert_id,
            "account_id": r.account_id,
            "threshold": r.threshold,
            "available": r.available,
            "position": r.position,
            "at": iso(r.at_us),
            "webhook_url": r.webhook_url,
            "delivery": r.delivery,
            "attempts": r.attempts,
            "last_error": r.last_error,
            "delivered_at": iso(r.delivered_at_us) if r.delivered_at_us else None,
        }
        for r in rows[:limit]
    ]
    more = len(rows) > limit
    return {"items": items, "next_cursor": items[-1]["alert_id"] if more else None}
