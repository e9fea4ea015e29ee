"""Verify the hash chain of the event store and report the first position that breaks it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shieldx.credits import chain
from shieldx.credits.store import EventStore


@dataclass(frozen=True)
class Verification:
    """The outcome of verifying positions FROM..TO."""

    ok: bool
    verified_events: int
    head_hash: str
    head_position: int
    first_bad_position: int | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The API's answer."""
        return {
            "ok": self.ok,
            "verified_events": self.verified_events,
            "head_hash": self.head_hash,
            "head_position": self.head_position,
            "first_bad_position": self.first_bad_position,
            "reason": self.reason,
        }


def verify(
    store: EventStore,
    *,
    from_position: int | None = None,
    to_position: int | None = None,
    chunk: int = 20_000,
) -> Verification:
    """Recompute every hash from FROM (default 1) to TO (default the end) and compare."""
    start = max(1, from_position or 1)
    recorded_head = store.head()
    previous = chain.GENESIS
    if start > 1:
        before = store.read_events(start - 2, 1, upto=start - 1)
        if not before or before[0][0] != start - 1:
            return _bad(0, previous, start - 1, start - 1, "the event before the range is missing")
        previous = bytes(before[0][14])
    expected, count = start, 0
    after = start - 1
    link = chain.link
    while True:
        rows = store.read_events(after, chunk, upto=to_position)
        for row in rows:
            position = row[0]
            if position != expected:
                return _bad(count, previous, expected - 1, expected, _missing(expected, position))
            digest = bytes(row[14])
            if link(previous, row[:14]) != digest:
                return _bad(
                    count,
                    previous,
                    position - 1,
                    position,
                    f"hash mismatch at position {position}: this event, or the one before it,"
                    " was altered, inserted or moved",
                )
            previous, expected, count = digest, expected + 1, count + 1
        if len(rows) < chunk:
            break
        after = rows[-1][0]
    last = expected - 1
    head_position, head_hash = recorded_head
    if to_position is None or to_position >= head_position:
        if last < head_position:
            return _bad(
                count,
                previous,
                last,
                last + 1,
                f"the chain head records position {head_position} but the log ends at {last}:"
                " events were deleted from the end",
            )
        if last > head_position:
            return _bad(
                count,
                previous,
                last,
                head_position + 1,
                f"events after the recorded chain head ({head_position}) were inserted",
            )
        if previous.hex() != head_hash and last == head_position and count:
            return _bad(count, previous, last, last, "the last event differs from the chain head")
    return Verification(True, count, previous.hex(), last)


def _missing(expected: int, found: int) -> str:
    return f"position {expected} is missing (the next stored event is {found}): deleted or moved"


def _bad(count: int, head: bytes, last: int, position: int, reason: str) -> Verification:
    return Verification(False, count, head.hex(), last, position, reason)
