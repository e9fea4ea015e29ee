"""Reads: balances from the read model, time travel from events, history pages, alerts.

All functions are blocking (call them through anyio.to_thread) and never replay more than
one account's events after its latest snapshot.
"""

from __future__ import annotations

import base64
import heapq
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from shieldx.credits.ledger.domain import Account
from shieldx.credits.ledger.events import MONEY_TYPES, decode
from shieldx.credits.ledger.ids import iso
from shieldx.credits.store.base import EventStore
from shieldx.credits.store.records import Row
from shieldx.credits.tables import alerts, balances
from shieldx.platform.db import Database
from shieldx.platform.parsing import parse_position


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
    store: EventStore,
    tenant: str,
    account_id: str,
    *,
    position: int | None = None,
    at_us: int | None = None,
) -> tuple[Account, int] | None:
    """The account rebuilt from events up to POSITION (or time AT_US), with its last position.

    It starts from the latest snapshot at or before that point and walks the stream's links
    back from the first snapshot after it (or from the stream's head): at most two snapshot
    intervals of events are read, however long the stream is.
    """
    sql = store.sql
    where = "position <= ?" if position is not None else "at_us <= ?"
    point = position if position is not None else at_us
    with store.reading() as cur:
        cur.execute(sql(_HEAD), (tenant, account_id))
        head = cur.fetchone()
        if head is None:
            return None
        cur.execute(sql(_SNAPSHOT_BEFORE.format(where=where)), (tenant, account_id, point))
        before = cur.fetchone()
        after_where = where.replace("<=", ">")
        cur.execute(sql(_SNAPSHOT_AFTER.format(where=after_where)), (tenant, account_id, point))
        after = cur.fetchone()
        floor = int(before[0]) if before else 0
        start_version, start = (int(after[0]), int(after[1])) if after else head
        rows = store.walk(cur, start, floor=floor, steps=start_version - floor)
    if before is not None:
        account = Account.from_snapshot(tenant, account_id, orjson.loads(before[2]))
        last = int(before[1])
    else:
        account, last = Account(tenant, account_id), 0
    for row in reversed(rows):
        event_position, _, _, type_, amount, reason, tx, data, event_at = row[:9]
        if (position is not None and event_position > position) or (
            at_us is not None and event_at > at_us
        ):
            break
        account.apply(decode(type_, amount, reason, tx, data))
        last = event_position
    if account.version == 0:
        return None
    return account, last


_HEAD = (
    "SELECT version, last_position FROM credit_balances_read_model"
    " WHERE tenant = ? AND account_id = ?"
)
_SNAPSHOT_BEFORE = (
    "SELECT version, position, state FROM aggregate_snapshots WHERE tenant = ? AND account_id = ?"
    " AND {where} ORDER BY version DESC LIMIT 1"
)
_SNAPSHOT_AFTER = (
    "SELECT version, position FROM aggregate_snapshots WHERE tenant = ? AND account_id = ?"
    " AND {where} ORDER BY version LIMIT 1"
)


def encode_cursor(position: int) -> str:
    """An opaque keyset cursor."""
    return base64.urlsafe_b64encode(f"p{position}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The position inside a cursor; ValueError if it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        raise ValueError("malformed cursor") from None
    if not raw.startswith("p"):
        raise ValueError("malformed cursor")
    return parse_position(raw[1:])


def history_page(
    store: EventStore,
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

    A tenant's page reads credit_history by its (tenant, position) index. One account's page
    walks the account's stream back through its prev links (from the cursor's event, or the
    head) and reads the history rows of the money events it passes, so history needs no
    per-account index (one randomly placed B-tree page less per event).
    """
    wanted = set(MONEY_TYPES if not types else [t for t in types if t in MONEY_TYPES])
    with store.reading() as cur:
        if account_id is None:
            rows = _tenant_page(store, cur, tenant, limit, cursor, wanted, as_of, as_of_us)
        else:
            positions = _account_positions(
                store, cur, tenant, account_id, limit, cursor, wanted, as_of, as_of_us
            )
            rows = []
            if positions:
                marks = ",".join("?" * len(positions))
                cur.execute(
                    store.sql(f"{_HISTORY} WHERE position IN ({marks}) ORDER BY position DESC"),
                    positions,
                )
                rows = list(cur.fetchall())
    items = [
        {
            "position": position,
            "account_id": account,
            "type": type_,
            "amount": amount,
            "balance_after": balance,
            "available_after": available,
            "at": iso(at),
            "reason": reason,
            "transaction_id": tx,
        }
        for position, account, type_, amount, balance, available, at, reason, tx in rows[:limit]
    ]
    more = len(rows) > limit
    return {"items": items, "next_cursor": encode_cursor(items[-1]["position"]) if more else None}


_HISTORY = (
    "SELECT position, account_id, type, amount, balance_after, available_after, at_us, reason,"
    " transaction_id FROM credit_history"
)


def _tenant_page(
    store: EventStore,
    cur: Any,
    tenant: str,
    limit: int,
    cursor: int | None,
    wanted: set[str],
    as_of: int | None,
    as_of_us: int | None,
) -> list[Row]:
    query = f"{_HISTORY} WHERE tenant = ?"
    params: list[str | int] = [tenant]
    for clause, value in (
        ("position < ?", cursor),
        ("position <= ?", as_of),
        ("at_us <= ?", as_of_us),
    ):
        if value is not None:
            query += f" AND {clause}"
            params.append(value)
    if len(wanted) < len(MONEY_TYPES):
        query += f" AND type IN ({','.join('?' * len(wanted))})"
        params.extend(sorted(wanted))
    cur.execute(store.sql(f"{query} ORDER BY position DESC LIMIT {int(limit) + 1}"), params)
    return list(cur.fetchall())


def _account_positions(
    store: EventStore,
    cur: Any,
    tenant: str,
    account_id: str,
    limit: int,
    cursor: int | None,
    wanted: set[str],
    as_of: int | None,
    as_of_us: int | None,
) -> list[int]:
    """Positions of the account's matching money events, newest first, at most LIMIT + 1."""
    sql = store.sql
    cur.execute(sql(_HEAD), (tenant, account_id))
    head = cur.fetchone()
    if head is None:
        return []
    start: int | None = int(head[1])
    if cursor is not None:
        cur.execute(sql(_PREV_OF), (cursor, tenant, account_id))
        row = cur.fetchone()
        if row is not None:
            start = None if row[0] is None else int(row[0])  # right after the previous page
    elif as_of is not None:
        cur.execute(sql(_SNAPSHOT_AFTER.format(where="position > ?")), (tenant, account_id, as_of))
        after = cur.fetchone()
        if after is not None:
            start = int(after[1])  # the walk from there to AS_OF is shorter than from the head
    found: list[int] = []
    while start is not None and len(found) <= limit:
        rows = store.walk(cur, start, floor=0, steps=4 * limit + 16)
        for position, _, _, type_, _, _, _, _, at_us, _, _ in rows:
            if (cursor is not None and position >= cursor) or (
                as_of is not None and position > as_of
            ):
                continue
            if (as_of_us is None or at_us <= as_of_us) and type_ in wanted:
                found.append(position)
        start = rows[-1][2] if rows else None
    return found[: limit + 1]


_PREV_OF = "SELECT prev FROM event_store WHERE position = ? AND tenant = ? AND account_id = ?"


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


# ------------------------------------------------------------------ several shards
#: In a merged cursor, a shard whose entries were all shown.
EXHAUSTED = -1


def encode_merged_cursor(positions: dict[str, int | None]) -> str:
    """A cursor over several shards: each shard's keyset position in map order ("n": from
    its newest, "x": all shown), e.g. "m12_n_x_7"."""
    marks = {None: "n", EXHAUSTED: "x"}
    return "m" + "_".join(marks.get(v) or str(v) for v in positions.values())


def decode_merged_cursor(cursor: str, shards: list[str]) -> dict[str, int | None]:
    """The per-shard positions of a merged cursor; ValueError if it is not one of ours."""
    parts = cursor[1:].split("_") if cursor.startswith("m") else []
    if len(parts) != len(shards):
        raise ValueError("malformed cursor")
    out: dict[str, int | None] = {}
    for name, part in zip(shards, parts, strict=True):
        out[name] = None if part == "n" else EXHAUSTED if part == "x" else parse_position(part)
    return out


def merge_history(
    pages: dict[str, dict[str, Any]], cursors: dict[str, int | None], limit: int
) -> dict[str, Any]:
    """One page, newest first, from each shard's page (each read after its own cursor).

    Every shard's entries keep their own order (so each shard's keyset stays exact); across
    shards the newest comes first. The next cursor holds each shard's last shown position.
    """
    streams = [
        [(datetime.fromisoformat(item["at"]), name, item) for item in page["items"]]
        for name, page in pages.items()
    ]
    merged = heapq.merge(*streams, key=lambda entry: entry[0], reverse=True)
    shown = [entry for _, entry in zip(range(limit), merged, strict=False)]
    after = dict(cursors)
    for _, name, item in shown:
        after[name] = item["position"]
    for name, page in pages.items():
        taken = sum(1 for _, n, _ in shown if n == name)
        if taken == len(page["items"]) and page["next_cursor"] is None:
            after[name] = EXHAUSTED
    more = any(value != EXHAUSTED for value in after.values())
    return {
        "items": [item for _, _, item in shown],
        "next_cursor": encode_merged_cursor(after) if more else None,
    }


def merge_alerts(pages: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    """One page of alerts, newest first, from every shard (alert ids are time-ordered)."""
    items = sorted(
        (item for page in pages for item in page["items"]),
        key=lambda item: str(item["alert_id"]),
        reverse=True,
    )
    more = len(items) > limit or any(page["next_cursor"] for page in pages)
    shown = items[:limit]
    return {"items": shown, "next_cursor": shown[-1]["alert_id"] if more and shown else None}
