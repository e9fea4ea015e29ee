"""Identifiers - a prefix, the creation time in microseconds (hex) and random bits - and the
ledger's time: microseconds since the epoch, rendered as RFC 3339 in answers.

Time-ordered ids keep inserts into indexes keyed by them close to the right-hand edge.
"""

from __future__ import annotations

import itertools
import os
import time
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# A random tag per process plus a counter: unique across processes without a syscall per id.
_PROCESS = os.urandom(3).hex()
_counter = itertools.count(int.from_bytes(os.urandom(3), "big"))


def new_id(prefix: str) -> str:
    """e.g. 'tx_0605a1b2c3d4e5f6a7b8c9d0': 13 hex of time, 6 of a counter, 6 of process tag."""
    return f"{prefix}_{time.time_ns() // 1000:013x}{next(_counter) & 0xFFFFFF:06x}{_PROCESS}"


def now_us() -> int:
    """Wall-clock time in microseconds since the Unix epoch."""
    return time.time_ns() // 1000


def iso(us: int) -> str:
    """Microseconds since the epoch as an RFC 3339 UTC timestamp."""
    # Exact integer arithmetic: a float of the seconds can round 9999-12-31T23:59:59.999999
    # up into a year no datetime holds.
    return (_EPOCH + timedelta(microseconds=us)).isoformat().replace("+00:00", "Z")
