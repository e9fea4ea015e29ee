"""The SHA-256 hash chain over the event store (one chain for the whole database).

Each event's hash covers every column of its row - position, stream (tenant, account),
version, the link to the stream's previous event, type, amount, the balance and held amount
after it, reason, transaction id, data, timestamp and idempotency key - encoded canonically
as a JSON array, and the previous event's hash. Editing, deleting, inserting or moving any
row breaks the chain at that row (or, when the forger also recomputed the edited row's hash,
at the row after it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import orjson

GENESIS = bytes(32)
_sha256 = hashlib.sha256
_dumps = orjson.dumps


def link(previous: bytes, row: Sequence[Any]) -> bytes:
    """The hash of one event row (every column but the hash, in table order) after PREVIOUS.

    The row holds (position, tenant, account_id, version, prev, type, amount, balance, held,
    reason, tx, data, at_us, idempotency_key): strings, integers and NULLs, so the JSON array
    is canonical (orjson writes no whitespace and integers exactly).
    """
    digest = _sha256(previous)
    digest.update(_dumps(tuple(row)))
    return digest.digest()


def to_hex(digest: bytes | memoryview) -> str:
    """A stored hash as the hex string the API shows."""
    return bytes(digest).hex()
