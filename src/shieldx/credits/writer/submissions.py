"""What callers submit to the group-commit writer and what they get back."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from shieldx.credits.ledger.commands import Command
from shieldx.credits.ledger.domain import Account
from shieldx.credits.ledger.events import Event
from shieldx.credits.store.records import AccountKey, CommitResult, Plan
from shieldx.credits.writer.plans import PlanBuilder


class Work(Protocol):
    """One unit a caller submits: which accounts it needs, what it decides, what it answers."""

    op: str
    keys: Sequence[AccountKey]
    commands: Sequence[Command]  # what CommandLimits checks before the work is queued
    sensitive: bool  # the answer holds a secret: the command log stores it sealed

    def decide(
        self, accounts: Mapping[AccountKey, Account], now: int
    ) -> list[tuple[Account, list[Event]]]:
        """The events per account (not yet applied); raise LedgerError to refuse."""

    def respond(self) -> tuple[int, dict[str, Any]]:
        """Status and body once the events are applied."""


@dataclass(frozen=True)
class Accepted:
    """A committed (or replayed) answer."""

    status: int
    body: bytes
    replayed: bool = False


class IdempotencyMismatch(Exception):
    """The key was used before with a different request."""


class ApplyFailed(Exception):
    """Applying one submission raised unexpectedly (a bug, logged): it alone is refused."""

    def __init__(self, op: str) -> None:
        super().__init__(f"the {op} operation could not be applied; nothing of it was recorded")
        self.op = op


class WriterUnavailable(Exception):
    """The writer could not commit (database trouble or shutting down); safe to retry."""


@dataclass
class Submission:
    """A queued piece of work and the future its caller awaits."""

    work: Work
    future: asyncio.Future[Accepted]
    idem: AccountKey | None = None
    request_hash: str = ""
    checked: bool = False  # command log consulted
    refused_unchecked: bool = False  # refused before its key was looked up
    side_rows: Callable[[PlanBuilder], None] | None = None  # payments, webhook secrets
    retries: int = 0
    outcome: Accepted | BaseException | None = None


@dataclass
class Batch:
    """Submissions applied together and the rows they produced."""

    seq: int
    epoch: int
    submissions: list[Submission]
    plan: Plan
    poisoned: bool = False
    result: CommitResult | BaseException | None = None


@dataclass(slots=True)
class CommandEntry:
    """An idempotency key whose first request is still in flight (its caller's future)."""

    request_hash: str
    future: asyncio.Future[Accepted]


@dataclass
class WriterStats:
    """Counters the metrics layer reads."""

    batches: int = 0
    commands: int = 0
    conflicts: int = 0
    last_batch: int = 0
    observers: list[Callable[[Batch], None]] = field(default_factory=list)
