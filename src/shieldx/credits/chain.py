"""The SHA-256 hash chain over the event store (one chain for the whole database).

Each event's hash covers a canonical encoding of its position, stream (tenant, account),
version, type, amount, data, timestamp and idempotency key, and the previous event's hash.
Editing, deleting, inserting or moving any row breaks the chain at that row (or, when the
forger also recomputed the edited row's hash, at the row after it).
"""

from __future__ import annotations

import hashlib

import orjson

GENESIS = "0" * 64


def link(
    previous: str,
    position: int,
    tenant: str,
    account_id: str,
    version: int,
    type_: str,
    amount: int,
    data: str,
    at_us: int,
    idempotency_key: str | None,
) -> str:
    """The hash of one event given the hash of the event before it."""
    canonical = orjson.dumps(
        (position, tenant, account_id, version, type_, amount, data, at_us, idempotency_key)
    )
    return hashlib.sha256(previous.encode("ascii") + canonical).hexdigest()
