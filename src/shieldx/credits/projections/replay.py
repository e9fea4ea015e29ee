"""Replaying the event store in bulk: read it in large chunks and fold it into balances.

The fold recomputes every account's balance and held amount from the event amounts and
checks each against what the event recorded, so a replay is also an audit of the ledger's
arithmetic. It works on plain row tuples (no event objects); `rebuild_account` is the
slower path that builds full aggregates.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from shieldx.credits.store.base import EventStore
from shieldx.credits.store.records import AccountKey, Row

FETCH = 100_000
_FOLD_COLUMNS = "tenant, account_id, type, amount, data, balance, held"
_STREAM_COLUMNS = "tenant, account_id, version, type, amount, reason, tx, data, balance, held"


class ReplayMismatch(Exception):
    """An event's recorded balance does not follow from the events before it."""


def _scan(store: EventStore, columns: str, chunk: int) -> Iterator[list[Row]]:
    with store.reading() as cur:
        cur.execute(f"SELECT {columns} FROM event_store ORDER BY position")  # noqa: S608
        while rows := cur.fetchmany(chunk):
            yield rows


def read_for_fold(store: EventStore, *, chunk: int = FETCH) -> list[Row]:
    """Every event, in order, as (tenant, account_id, type, amount, data, balance, held)."""
    rows: list[Row] = []
    for part in _scan(store, _FOLD_COLUMNS, chunk):
        rows += part
    return rows


def read_streams(store: EventStore, *, chunk: int = FETCH) -> Iterator[Row]:
    """Every event, in order, with what an aggregate needs: (tenant, account_id, version,
    type, amount, reason, tx, data, balance, held)."""
    for part in _scan(store, _STREAM_COLUMNS, chunk):
        yield from part


def fold_balances(
    rows: Iterable[Row], into: dict[AccountKey, tuple[int, int]] | None = None
) -> dict[AccountKey, tuple[int, int]]:
    """(balance, held) per account from rows of `read_for_fold`; raises ReplayMismatch when a
    recorded balance disagrees with the fold."""
    state = {} if into is None else into
    get = state.get
    loads = orjson.loads
    for tenant, account, type_, amount, data, balance, held in rows:
        key = (tenant, account)
        before = get(key)
        b, h = (0, 0) if before is None else before
        if type_ == "credits_consumed":
            b -= amount
        elif type_ == "credits_reserved":
            h += amount
        elif type_ == "hold_committed":
            d: dict[str, Any] = loads(data)
            expired = d["expired"]
            b -= amount + expired
            h -= amount + d["released"] + expired
        elif type_ == "credits_purchased":
            b += amount
        elif type_ == "grant_expired":
            b -= amount
        elif type_ == "hold_cancelled" or type_ == "hold_expired":
            b -= loads(data)["expired"]
            h -= amount
        if b != balance or h != held:
            raise ReplayMismatch(
                f"{tenant}/{account}: {type_} records {balance}/{held}, the fold gives {b}/{h}"
            )
        state[key] = (b, h)
    return state
