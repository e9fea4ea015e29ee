"""The event store as the service process reads it: stream loads, lookups, maintenance writes.

Group commits happen in the commit process (commits.py); this side loads accounts (by
walking each stream's prev links back from its head to its latest snapshot), looks up
idempotency keys and holds, reads events in order, and gives maintenance work (retention,
projection catch-up, rebuild) a write transaction. The SQL is shared; the two backends
differ only in how a write transaction takes the lock, in the placeholder style and in how
the commit process connects: subclasses in sqlite.py and postgres.py.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from shieldx.credits.store import sql as statements
from shieldx.credits.store.records import AccountKey, Row, StoredCommand, StreamLoad

if TYPE_CHECKING:  # the commit process imports the backends without SQLAlchemy
    from shieldx.platform.db import Database


class EventStore(ABC):
    """The ledger's tables on one database; subclasses supply the backend's locking."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # Maintenance writers of this process (projection catch-up, retention, rebuild) queue
        # here instead of meeting at the database's lock, whose busy handler waits by sleeping.
        self.write_lock: AbstractContextManager[Any] = threading.Lock()

    # ------------------------------------------------------------ backend hooks
    @abstractmethod
    def sql(self, text: str) -> str:
        """TEXT with '?' placeholders in this driver's style."""

    @abstractmethod
    def _begin_write(self, cur: Any) -> None:
        """Start a write transaction that excludes other writers."""

    @abstractmethod
    def _lock_head(self, cur: Any) -> tuple[int, str]:
        """Read the chain head under the write lock."""

    @abstractmethod
    def _end(self, conn: Any, cur: Any, *, commit: bool) -> None:
        """Commit or roll back the current transaction."""

    # ------------------------------------------------------------ connections
    @contextmanager
    def connection(self) -> Iterator[Any]:
        """A pooled DBAPI connection (returned to the pool afterwards)."""
        raw = self.db.engine.raw_connection()
        try:
            yield raw
        finally:
            raw.close()

    @contextmanager
    def reading(self) -> Iterator[Any]:
        """A cursor for reads; the transaction is ended afterwards."""
        with self.connection() as conn:
            cur = conn.cursor()
            try:
                yield cur
            finally:
                self._end(conn, cur, commit=False)
                cur.close()

    @abstractmethod
    def commit_config(self) -> dict[str, Any]:
        """How the commit process opens this database: the same target and connection settings
        (SQLite synchronous level and busy timeout) as the platform's own connections."""

    # ------------------------------------------------------------ reads for the writer
    def head(self) -> tuple[int, str]:
        """The chain head (position, hash) as committed."""
        with self.reading() as cur:
            cur.execute(statements.SELECT_HEAD)
            position, digest = cur.fetchone()
            return int(position), str(digest)

    def load_streams(
        self, keys: Iterable[AccountKey], *, snapshots: bool = True, trusted: bool = True
    ) -> dict[AccountKey, StreamLoad]:
        """Each account's latest snapshot and the events after it (at most N of them), found
        by walking the stream's prev links back from its head (the balance row). The event
        at the snapshot's own version comes along as the anchor the snapshot must agree with.
        Without SNAPSHOTS, every event of the stream (to rebuild one a snapshot got wrong);
        without TRUSTED, the stream heads come from the event store itself (a full scan: only
        to recover an account whose derived rows disagree with its events)."""
        wanted = list(dict.fromkeys(keys))
        loads: dict[AccountKey, StreamLoad] = {}
        with self.reading() as cur:
            latest = self._latest_snapshots(cur, wanted) if snapshots else {}
            heads = (self._stream_heads if trusted else self._heads_from_events)(cur, wanted)
            for key in wanted:
                version, state = latest.get(key, (0, None))
                head = heads.get(key)
                events: list[Row] = []
                anchor = None
                if head is not None and head[0] >= version:
                    floor = max(0, version - 1)
                    walked = self.walk(cur, head[1], floor=floor, steps=head[0] - floor)
                    events = [
                        (v, type_, amount, reason, tx, data, balance, held)
                        for _, v, _, type_, amount, reason, tx, data, _, balance, held in walked
                    ]
                    events.reverse()
                    if version and events and events[0][0] == version:
                        anchor = (events[0][6], events[0][7])
                        events = events[1:]
                head_version, head_position = (None, None) if head is None else head
                loads[key] = StreamLoad(version, state, events, anchor, head_version, head_position)
        return loads

    def walk(self, cur: Any, start: int, *, floor: int, steps: int) -> list[Row]:
        """One stream's events from position START back to the one after version FLOOR, at
        most STEPS of them, newest first: (position, version, prev, type, amount, reason, tx,
        data, at_us, balance, held)."""
        cur.execute(self.sql(statements.WALK_STREAM), (start, floor, steps, floor))
        return list(cur.fetchall())

    def _stream_heads(self, cur: Any, keys: Sequence[AccountKey]) -> dict[AccountKey, Row]:
        found: dict[AccountKey, Row] = {}
        for tenant, accounts in statements.by_tenant(keys):
            for chunk in statements.chunks(accounts):
                sql = self.sql(statements.expand(statements.STREAM_VERSIONS, len(chunk)))
                cur.execute(sql, (tenant, *chunk))
                for account_id, version, last in cur.fetchall():
                    found[(tenant, account_id)] = (int(version), int(last))
        return found

    def _heads_from_events(self, cur: Any, keys: Sequence[AccountKey]) -> dict[AccountKey, Row]:
        found: dict[AccountKey, Row] = {}
        for tenant, accounts in statements.by_tenant(keys):
            for chunk in statements.chunks(accounts):
                sql = self.sql(statements.expand(statements.STREAM_HEADS_FROM_EVENTS, len(chunk)))
                cur.execute(sql, (tenant, *chunk))
                for account_id, version, last in cur.fetchall():
                    found[(tenant, account_id)] = (int(version), int(last))
        return found

    def _latest_snapshots(self, cur: Any, keys: Sequence[AccountKey]) -> dict[AccountKey, Row]:
        found: dict[AccountKey, Row] = {}
        for tenant, accounts in statements.by_tenant(keys):
            for chunk in statements.chunks(accounts):
                sql = self.sql(statements.expand(statements.LATEST_SNAPSHOTS, len(chunk)))
                cur.execute(sql, (tenant, *chunk, tenant))
                for account_id, version, state in cur.fetchall():
                    found[(tenant, account_id)] = (int(version), state)
        return found

    def find_commands(self, keys: Iterable[AccountKey]) -> dict[AccountKey, StoredCommand]:
        """Command-log entries for (tenant, idempotency key) pairs."""
        found: dict[AccountKey, StoredCommand] = {}
        with self.reading() as cur:
            for tenant, idem_keys in statements.by_tenant(keys):
                for chunk in statements.chunks(idem_keys):
                    sql = self.sql(statements.expand(statements.FIND_COMMANDS, len(chunk)))
                    cur.execute(sql, (tenant, *chunk))
                    for key, digest, op, status, response in cur.fetchall():
                        found[(tenant, key)] = StoredCommand(digest, op, int(status), response)
        return found

    def find_holds(self, hold_ids: Iterable[str]) -> dict[str, tuple[str, str, str]]:
        """(tenant, account_id, state) of each known hold id."""
        found: dict[str, tuple[str, str, str]] = {}
        with self.reading() as cur:
            for chunk in statements.chunks(list(hold_ids)):
                cur.execute(
                    self.sql(statements.expand(statements.FIND_HOLDS, len(chunk))), tuple(chunk)
                )
                for hold_id, tenant, account_id, state in cur.fetchall():
                    found[hold_id] = (tenant, account_id, state)
        return found

    def read_events(self, after: int, limit: int, upto: int | None = None) -> list[Row]:
        """Events with position > AFTER (and <= UPTO) in order, every column in table order:
        (position, tenant, account_id, version, prev, type, amount, balance, held, reason, tx,
        data, at_us, idempotency_key, hash)."""
        query = f"SELECT {statements.EVENT_COLUMNS} FROM event_store WHERE position > ?"  # noqa: S608
        params: tuple[int, ...] = (after,)
        if upto is not None:
            query += " AND position <= ?"
            params = (after, upto)
        with self.reading() as cur:
            cur.execute(self.sql(query + f" ORDER BY position LIMIT {int(limit)}"), params)
            return list(cur.fetchall())

    @contextmanager
    def writing(self) -> Iterator[Any]:
        """A cursor inside a write transaction, committed on success, rolled back on error."""
        with self.write_lock, self.connection() as conn:
            cur = conn.cursor()
            try:
                self._begin_write(cur)
                yield cur
                self._end(conn, cur, commit=True)
            except BaseException:
                self._end(conn, cur, commit=False)
                raise
            finally:
                cur.close()

    def repair_balance(
        self, key: AccountKey, *, balance: int, held: int, version: int, position: int, now: int
    ) -> None:
        """Overwrite an account's balance row with what its events say (after a load found the
        row disagreeing with them; the writer is the only one that writes this account)."""
        with self.writing() as cur:
            cur.execute(
                self.sql(statements.REPAIR_BALANCE),
                (balance, held, balance - held, version, position, now, *key),
            )

    def tracking(self, names: Sequence[str]) -> dict[str, int]:
        """Each projection's tracked position."""
        with self.reading() as cur:
            cur.execute(self.sql(statements.expand(statements.TRACKING, len(names))), tuple(names))
            return {name: int(position) for name, position in cur.fetchall()}
