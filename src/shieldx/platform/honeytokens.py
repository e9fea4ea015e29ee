"""Honeytokens: credentials planted by the deception service, recognised wherever they are used.

The camouflage service plants tokens (only their SHA-256 is stored); every other part of the
platform reports credentials it refuses (unknown API keys, inactive tokens at introspection).
Reports are queued and checked off the request path, so a refused request is answered exactly
like any other bad credential, and a flood of random keys cannot slow anyone down.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
import sqlalchemy as sa
import structlog

from shieldx.platform.bus import EventBus
from shieldx.platform.db import Database

USED_TOPIC = "honeytoken.used"
log = structlog.get_logger("shieldx.honeytokens")

metadata = sa.MetaData()
honeytokens = sa.Table(
    "honeytokens",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("session_id", sa.String(64)),
    sa.Column("decoy", sa.String(64)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
honeytoken_uses = sa.Table(
    "honeytoken_uses",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("token_id", sa.String(32), sa.ForeignKey("honeytokens.id"), nullable=False),
    sa.Column("location", sa.String(64), nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
)


def token_hash(token: str) -> str:
    """The SHA-256 hex under which a token is planted and looked up."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(frozen=True)
class HoneytokenUse:
    """One use of a planted token: which token, whose session, where and from where."""

    use_id: int
    token_id: str
    kind: str
    session_id: str | None
    decoy: str | None
    location: str
    source: str
    used_at: datetime

    def as_event(self) -> dict[str, Any]:
        """Plain data for the bus and the logs."""
        return {
            "use_id": self.use_id,
            "token_id": self.token_id,
            "kind": self.kind,
            "session_id": self.session_id,
            "decoy": self.decoy,
            "location": self.location,
            "source": self.source,
            "used_at": self.used_at.isoformat(),
        }


class HoneytokenRegistry:
    """Plants honeytokens and turns reports of refused credentials into recorded uses."""

    def __init__(self, db: Database, bus: EventBus, *, queue_size: int = 10_000) -> None:
        self._db = db
        self._bus = bus
        self._queue: asyncio.Queue[tuple[str, str, str, datetime]] | None = None
        self._queue_size = queue_size
        self._worker: asyncio.Task[None] | None = None
        self._users = 0
        self.dropped = 0

    def plant(
        self, *, token: str, kind: str, session_id: str | None = None, decoy: str | None = None
    ) -> str:
        """Record TOKEN (by hash) as a honeytoken and return its id; planting twice is a no-op."""
        digest = token_hash(token)
        with self._db.write() as conn:
            existing = conn.execute(
                sa.select(honeytokens.c.id).where(honeytokens.c.token_hash == digest)
            ).scalar_one_or_none()
            if existing is not None:
                return str(existing)
            token_id = secrets.token_hex(8)
            conn.execute(
                honeytokens.insert().values(
                    id=token_id,
                    token_hash=digest,
                    kind=kind,
                    session_id=session_id,
                    decoy=decoy,
                    created_at=datetime.now(UTC),
                )
            )
        return token_id

    def report_hash(self, digest: str, *, location: str, source: str) -> None:
        """Queue a refused credential (by hash) for checking; never blocks, drops when full."""
        if self._queue is None:
            return
        try:
            self._queue.put_nowait((digest, location, source, datetime.now(UTC)))
        except asyncio.QueueFull:
            self.dropped += 1

    def report(self, token: str, *, location: str, source: str) -> None:
        """Queue a refused credential for checking (see report_hash)."""
        self.report_hash(token_hash(token), location=location, source=source)

    def check_now(self, reports: Sequence[tuple[str, str, str, datetime]]) -> list[HoneytokenUse]:
        """Record the reports that are honeytokens (blocking) and return the uses."""
        digests = {r[0] for r in reports}
        with self._db.write() as conn:
            rows = conn.execute(
                sa.select(honeytokens).where(honeytokens.c.token_hash.in_(digests))
            ).all()
            planted = {row.token_hash: row for row in rows}
            uses: list[HoneytokenUse] = []
            for digest, location, source, at in reports:
                row = planted.get(digest)
                if row is None:
                    continue
                inserted = conn.execute(
                    honeytoken_uses.insert().values(
                        token_id=row.id, location=location, source=source[:64], used_at=at
                    )
                ).inserted_primary_key
                assert inserted is not None
                use_id = inserted[0]
                uses.append(
                    HoneytokenUse(
                        use_id=int(use_id),
                        token_id=row.id,
                        kind=row.kind,
                        session_id=row.session_id,
                        decoy=row.decoy,
                        location=location,
                        source=source,
                        used_at=at,
                    )
                )
        return uses

    def uses_since(self, after_id: int = 0, limit: int = 1000) -> list[HoneytokenUse]:
        """Uses recorded by any process after AFTER_ID, oldest first."""
        query = (
            sa.select(
                honeytoken_uses.c.id.label("use_id"),
                honeytoken_uses.c.location,
                honeytoken_uses.c.source,
                honeytoken_uses.c.used_at,
                honeytokens.c.id.label("token_id"),
                honeytokens.c.kind,
                honeytokens.c.session_id,
                honeytokens.c.decoy,
            )
            .join(honeytokens, honeytokens.c.id == honeytoken_uses.c.token_id)
            .where(honeytoken_uses.c.id > after_id)
            .order_by(honeytoken_uses.c.id)
            .limit(limit)
        )
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        return [HoneytokenUse(**row._mapping) for row in rows]

    async def start(self) -> None:
        """Start the checking task (once per process, however many apps share the registry)."""
        self._users += 1
        if self._worker is None:
            self._queue = asyncio.Queue(self._queue_size)
            self._worker = asyncio.create_task(self._run(), name="honeytoken-checker")

    async def stop(self) -> None:
        """Stop the task when the last app using it stops, checking what is still queued."""
        self._users -= 1
        if self._users > 0 or self._worker is None:
            return
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker
        self._worker = None
        if self._queue is not None and not self._queue.empty():
            pending = [self._queue.get_nowait() for _ in range(self._queue.qsize())]
            await self._handle(pending)
        self._queue = None

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < 500:
                batch.append(self._queue.get_nowait())
            try:
                await self._handle(batch)
            except Exception:
                log.exception("honeytokens.check_failed", reports=len(batch))

    async def _handle(self, batch: list[tuple[str, str, str, datetime]]) -> None:
        uses = await anyio.to_thread.run_sync(self.check_now, batch)
        for use in uses:
            event = use.as_event()
            log.critical("honeytoken.used", severity="high", **event)
            self._bus.publish(USED_TOPIC, event)
