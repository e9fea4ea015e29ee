"""Verify the hash chain of the event store and report the first position that breaks it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from shieldx.credits.audit.consistency import check_derived
from shieldx.credits.ledger import chain
from shieldx.credits.store.base import EventStore


class RangeRefused(ValueError):
    """The requested range is reversed or lies past the head: nothing to verify there."""


@dataclass(frozen=True)
class Verification:
    """The outcome of verifying positions FROM..TO."""

    ok: bool
    verified_events: int
    head_hash: str
    head_position: int
    first_bad_position: int | None = None
    reason: str | None = None
    mismatches: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The API's answer."""
        return {
            "ok": self.ok,
            "verified_events": self.verified_events,
            "head_hash": self.head_hash,
            "head_position": self.head_position,
            "first_bad_position": self.first_bad_position,
            "reason": self.reason,
            "mismatches": self.mismatches,
        }


def verify(
    store: EventStore,
    *,
    from_position: int | None = None,
    to_position: int | None = None,
    deep: bool = False,
    chunk: int = 20_000,
) -> Verification:
    """Recompute every hash from FROM (default 1) to TO (default the end) and compare;
    RangeRefused when FROM > TO or either lies past the recorded head. DEEP also checks every
    snapshot and balance row against the fold of the events (see consistency)."""
    result = _verify_chain(store, from_position, to_position, chunk)
    if not deep:
        return result
    mismatches = check_derived(store)
    if not mismatches:
        return result
    first = mismatches[0]
    reason = result.reason or (
        f"{len(mismatches)} derived row(s) differ from the events, first the {first['kind']} of"
        f" {first['tenant']}/{first['account_id']}: {first['reason']}"
    )
    return replace(result, ok=False, reason=reason, mismatches=mismatches)


def _verify_chain(
    store: EventStore, from_position: int | None, to_position: int | None, chunk: int
) -> Verification:
    recorded_head = store.head()
    check_range(from_position, to_position, recorded_head[0])
    start = max(1, from_position or 1)
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


def check_range(from_position: int | None, to_position: int | None, head: int) -> None:
    """Refuse a reversed range or one that starts or ends past HEAD."""
    if from_position is not None and to_position is not None and from_position > to_position:
        raise RangeRefused(
            f"from_position ({from_position}) is after to_position ({to_position}): "
            "give the first position, then the last"
        )
    for name, value in (("from_position", from_position), ("to_position", to_position)):
        if value is not None and value > head:
            raise RangeRefused(
                f"{name} ({value}) is past the head of the log (position {head}); "
                f"positions run from 1 to {head}"
            )


def _missing(expected: int, found: int) -> str:
    return f"position {expected} is missing (the next stored event is {found}): deleted or moved"


def _bad(count: int, head: bytes, last: int, position: int, reason: str) -> Verification:
    return Verification(False, count, head.hex(), last, position, reason)


def combine(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One answer for several shards' chains: ok if all are, else the first break named by
    its shard and position (positions are per shard: each shard has its own chain)."""
    bad = next((name for name, r in results.items() if not r["ok"]), None)
    lead = results[bad] if bad is not None else list(results.values())[-1]
    return {
        **lead,
        "ok": bad is None,
        "verified_events": sum(int(r["verified_events"]) for r in results.values()),
        "mismatches": [
            {"shard": name, **m} for name, r in results.items() for m in r["mismatches"]
        ],
        "shard": bad,
        "shards": [{"shard": name, **r} for name, r in results.items()],
    }
