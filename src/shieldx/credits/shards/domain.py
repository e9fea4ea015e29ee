"""Sharding, pure: the consistent-hash ring, the versioned shard map, the transfer protocol.

The ring places `virtual_nodes` points per shard on a 32-bit circle (point i of shard S is
the first 32 bits of SHA-256 of "S#i"); an account belongs to the first point at or after CRC32 of
"tenant\\x00account_id", wrapping around. A lookup is one CRC32 and one binary search.

A cross-shard transfer is a two-phase commit on durable holds (docs/credits.md, "Sharding"):

    started --prepare: hold on the source--> prepared --decide--> committed --> done
       |                                        |
       +------------------ abort ---------------+--> aborted --> done

Every state is recorded in the coordinator database before the step that follows it, and
every step on a shard carries an idempotency key derived from the transfer id, so recovery
re-drives an unfinished transfer from its recorded state without doing anything twice.
"""

from __future__ import annotations

import bisect
import hashlib
import zlib
from dataclasses import dataclass, field
from typing import Literal

TransferState = Literal["started", "prepared", "committed", "aborted", "done"]
#: What the coordinator may record next from each state (anything else is a bug).
NEXT_STATES: dict[str, frozenset[str]] = {
    "started": frozenset({"prepared", "aborted"}),
    "prepared": frozenset({"committed", "aborted"}),
    "committed": frozenset({"done"}),
    "aborted": frozenset({"done"}),
    "done": frozenset(),
}


class StaleRingVersion(Exception):
    """A command was routed with a ring version that is no longer the current one."""

    def __init__(self, routed: int, current: int) -> None:
        super().__init__(f"routed with ring version {routed}, the shard map is at {current}")
        self.routed = routed
        self.current = current


def _point(label: str) -> int:
    """A virtual node's place: 32 bits of SHA-256 (CRC32 is linear, and the points of
    "shard-8#0…255" would fall in the same few stretches as those of "shard-0#…")."""
    return int.from_bytes(hashlib.sha256(label.encode()).digest()[:4], "big")


def account_point(tenant: str, account_id: str) -> int:
    """The account's place on the ring (CRC32 of tenant NUL account)."""
    return zlib.crc32(f"{tenant}\x00{account_id}".encode())


@dataclass(frozen=True)
class Ring:
    """Shard names placed on a consistent-hash ring, `virtual_nodes` points each."""

    shards: tuple[str, ...]
    virtual_nodes: int
    _points: list[int] = field(init=False, repr=False, compare=False)
    _owners: list[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.shards:
            raise ValueError("a ring needs at least one shard")
        placed = sorted(
            (_point(f"{shard}#{i}"), shard)
            for shard in self.shards
            for i in range(self.virtual_nodes)
        )
        object.__setattr__(self, "_points", [p for p, _ in placed])
        object.__setattr__(self, "_owners", [s for _, s in placed])

    def shard_of(self, tenant: str, account_id: str) -> str:
        """The shard that owns (TENANT, ACCOUNT_ID)."""
        if len(self.shards) == 1:
            return self.shards[0]
        i = bisect.bisect_left(self._points, account_point(tenant, account_id))
        return self._owners[i % len(self._owners)]


@dataclass(frozen=True)
class ShardMap:
    """The shards (name, database URL or None for a SQLite file) at one ring version."""

    version: int
    shards: tuple[tuple[str, str | None], ...]
    virtual_nodes: int

    @property
    def names(self) -> tuple[str, ...]:
        """The shards' names, in map order."""
        return tuple(name for name, _ in self.shards)

    def ring(self) -> Ring:
        """The ring of this map."""
        return Ring(self.names, self.virtual_nodes)

    def same_layout(self, other: ShardMap) -> bool:
        """True when OTHER places every account where this map does."""
        return self.names == other.names and self.virtual_nodes == other.virtual_nodes

    def check_version(self, routed: int) -> None:
        """Raise StaleRingVersion if a command was routed under another version."""
        if routed != self.version:
            raise StaleRingVersion(routed, self.version)


@dataclass(frozen=True)
class Transfer:
    """A cross-shard transfer as the coordinator records it."""

    transfer_id: str
    tenant: str
    from_account: str
    to_account: str
    amount: int
    reason: str
    state: TransferState
    created_us: int
    hold_id: str | None = None
    decision_us: int | None = None

    def advance(self, state: TransferState) -> Transfer:
        """This transfer in STATE; ValueError for a move the protocol does not have."""
        if state not in NEXT_STATES[self.state]:
            raise ValueError(f"transfer {self.transfer_id}: {self.state} -> {state} is not a step")
        return Transfer(**{**self.__dict__, "state": state})

    def recovery_action(self, *, now_us: int, timeout_us: int) -> str | None:
        """What recovery does now: 'abort', 'commit', 'finish_abort' or None (leave it be)."""
        if self.state == "started":
            return "abort" if now_us - self.created_us >= timeout_us else None
        if self.state == "prepared":
            return "abort" if now_us - self.created_us >= timeout_us else None
        if self.state == "committed":
            return "commit"
        if self.state == "aborted":
            return "finish_abort"
        return None

    # Idempotency keys of the steps on the shards, derived from the transfer id.
    @property
    def hold_key(self) -> str:
        """Key of the prepare (the hold on the source)."""
        return f"transfer:{self.transfer_id}:hold"

    @property
    def debit_key(self) -> str:
        """Key of the commit of the hold on the source."""
        return f"transfer:{self.transfer_id}:debit"

    @property
    def credit_key(self) -> str:
        """Key of the credit on the target."""
        return f"transfer:{self.transfer_id}:credit"

    @property
    def release_key(self) -> str:
        """Key of the cancel of the hold on abort."""
        return f"transfer:{self.transfer_id}:release"
