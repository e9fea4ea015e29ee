"""The event store: one group commit per transaction, stream loads, lookups (SQLite or PostgreSQL).

The hot paths use the DBAPI cursor directly (executemany, no SQLAlchemy per row); the SQL is
shared and the two backends differ only in how a write transaction takes the lock and in
the placeholder style. Driver errors become StoreConflict or StoreUnavailable.
"""

from __future__ import annotations

import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import psycopg

from shieldx.credits import statements
from shieldx.credits.records import (
    AccountKey,
    CommitResult,
    Plan,
    Row,
    StoreConflict,
    StoredCommand,
    StoreUnavailable,
    StreamLoad,
)
from shieldx.platform.db import Database


class EventStore(ABC):
    """The ledger's tables on one database; subclasses supply the backend's locking."""

    integrity_errors: tuple[type[Exception], ...] = ()
    unavailable_errors: tuple[type[Exception], ...] = ()

    def __init__(self, db: Database) -> None:
        self.db = db
        self._bulk_sql: dict[tuple[str, int], str] = {}
        # Writers of this process (group commit, projections, sweeper) queue here in order
        # instead of meeting at the database's lock: SQLite's busy handler waits by sleeping
        # 1, 2, 5 … 100 ms, which turned short lock overlaps into long latency spikes.
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
    def writer_connection(self) -> Any:
        """A pooled connection the commit thread keeps for its lifetime."""
        return self.db.engine.raw_connection()

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

    # ------------------------------------------------------------ group commit
    def commit(self, conn: Any, plan: Plan, since: tuple[int, str] | None) -> CommitResult:
        """Write PLAN in one transaction; SINCE is the head (position, hash) this writer last
        committed, so the usual case costs no read: the head row is updated only if it is
        still there (another writer moved it otherwise, and then it is read and locked)."""
        with self.write_lock:
            return self._commit(conn, plan, since)

    def _commit(self, conn: Any, plan: Plan, since: tuple[int, str] | None) -> CommitResult:
        cur = conn.cursor()
        try:
            self._begin_write(cur)
            foreign: frozenset[AccountKey] = frozenset()
            head = since
            rows, position, digest = statements.chain_rows(plan, head) if head else ([], 0, "")
            moved = head is None or not self._advance_head(cur, head[0], position, digest)
            if moved:
                head = self._lock_head(cur)
                if since is not None:
                    # Only for invalidating caches: the (stream, version) constraint is what
                    # refuses a plan built on a stale account.
                    cur.execute(self.sql(statements.CHANGED_SINCE), (since[0],))
                    foreign = frozenset((t, a) for t, a in cur.fetchall())
                rows, position, digest = statements.chain_rows(plan, head)
                if rows:
                    cur.execute(self.sql(statements.SET_HEAD), (position, digest))
            assert head is not None
            self._write_rows(cur, plan, rows, head[0] + 1)
            self._end(conn, cur, commit=True)
            return CommitResult(head[0] + 1, position, digest, foreign)
        except StoreConflict:
            self._abort(conn, cur)
            raise
        except self.integrity_errors as exc:
            self._abort(conn, cur)
            raise StoreConflict(None) from exc
        except self.unavailable_errors as exc:
            self._abort(conn, cur)
            raise StoreUnavailable(str(exc)) from exc
        finally:
            cur.close()

    def _advance_head(self, cur: Any, expected: int, position: int, digest: str) -> bool:
        if position == expected:
            return True  # nothing to append (only command-log or side rows)
        cur.execute(self.sql(statements.ADVANCE_HEAD), (position, digest, expected))
        return bool(cur.rowcount == 1)

    def _write_rows(self, cur: Any, plan: Plan, rows: list[Row], first: int) -> None:
        bulk = self._bulk
        if rows:
            bulk(cur, statements.INSERT_EVENT, rows)
        if plan.commands:
            bulk(cur, statements.INSERT_COMMAND, plan.commands)
        if plan.hold_inserts:
            bulk(cur, statements.INSERT_HOLD, plan.hold_inserts)
        if plan.hold_updates:
            bulk(cur, statements.RESOLVE_HOLD, plan.hold_updates)
        if plan.grant_inserts:
            bulk(cur, statements.INSERT_GRANT, plan.grant_inserts)
        if plan.grant_updates:
            cur.executemany(self.sql(statements.UPDATE_GRANT), plan.grant_updates)
        if plan.balances:
            balances = [
                (t, a, b, h, av, v, first + i, at) for t, a, b, h, av, v, i, at in plan.balances
            ]
            bulk(cur, statements.UPSERT_BALANCE, balances)
        if plan.snapshots:
            snapshots = [(t, a, v, first + i, at, s) for t, a, v, i, at, s in plan.snapshots]
            bulk(cur, statements.INSERT_SNAPSHOT, snapshots)
        if plan.thresholds:
            cur.executemany(self.sql(statements.UPSERT_THRESHOLD), plan.thresholds)
        if plan.alerts:
            cur.executemany(
                self.sql(statements.INSERT_ALERT),
                [(*r[:5], first + r[5], *r[6:]) for r in plan.alerts],
            )
        if plan.payments:
            cur.executemany(self.sql(statements.INSERT_PAYMENT), plan.payments)

    def _bulk(self, cur: Any, template: str, rows: Sequence[Row]) -> None:
        """INSERT many rows with multi-row VALUES statements (64 rows, then powers of two).

        One statement per chunk instead of one per row: the driver releases and retakes the
        GIL around every statement, and with the event loop busy in the other thread each
        retake can wait, so fewer statements means far less waiting.
        """
        start = 0
        while start < len(rows):
            size = statements.chunk_size(len(rows) - start)
            sql = self._bulk_sql.get((template, size))
            if sql is None:
                sql = self._bulk_sql[(template, size)] = self.sql(
                    statements.multi_row(template, size)
                )
            chunk = rows[start : start + size]
            cur.execute(sql, [value for row in chunk for value in row])
            start += size

    def _abort(self, conn: Any, cur: Any) -> None:
        try:
            self._end(conn, cur, commit=False)
        except Exception as exc:  # the connection itself is gone
            raise StoreUnavailable(f"rollback failed: {exc}") from exc

    # ------------------------------------------------------------ reads for the writer
    def head(self) -> tuple[int, str]:
        """The chain head (position, hash) as committed."""
        with self.reading() as cur:
            cur.execute(statements.SELECT_HEAD)
            position, digest = cur.fetchone()
            return int(position), str(digest)

    def load_streams(self, keys: Iterable[AccountKey]) -> dict[AccountKey, StreamLoad]:
        """Each account's latest snapshot and the events after it (at most N of them)."""
        wanted = list(dict.fromkeys(keys))
        loads: dict[AccountKey, StreamLoad] = {}
        with self.reading() as cur:
            snapshots = self._latest_snapshots(cur, wanted)
            events_sql = self.sql(
                "SELECT version, type, amount, data FROM event_store"
                " WHERE tenant = ? AND account_id = ? AND version > ? ORDER BY version"
            )
            for key in wanted:
                version, state = snapshots.get(key, (0, None))
                cur.execute(events_sql, (key[0], key[1], version))
                loads[key] = StreamLoad(version, state, cur.fetchall())
        return loads

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

    def read_events(
        self, after: int, limit: int, upto: int | None = None, *, proof: bool = False
    ) -> list[Row]:
        """Events with position > AFTER in order: (position, tenant, account_id, version, type,
        amount, data, at_us[, idempotency_key, hash when PROOF])."""
        columns = "position, tenant, account_id, version, type, amount, data, at_us"
        if proof:
            columns += ", idempotency_key, hash"
        query = f"SELECT {columns} FROM event_store WHERE position > ?"  # noqa: S608
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
                self._abort(conn, cur)
                raise
            finally:
                cur.close()

    def tracking(self, names: Sequence[str]) -> dict[str, int]:
        """Each projection's tracked position."""
        with self.reading() as cur:
            cur.execute(self.sql(statements.expand(statements.TRACKING, len(names))), tuple(names))
            return {name: int(position) for name, position in cur.fetchall()}


class SQLiteEventStore(EventStore):
    """SQLite: BEGIN IMMEDIATE takes the database's single write lock up front."""

    integrity_errors = (sqlite3.IntegrityError,)
    unavailable_errors = (sqlite3.OperationalError, sqlite3.DatabaseError)

    def sql(self, text: str) -> str:
        """SQLite uses '?' already."""
        return text

    def _begin_write(self, cur: Any) -> None:
        cur.execute("BEGIN IMMEDIATE")

    def _lock_head(self, cur: Any) -> tuple[int, str]:
        cur.execute(statements.SELECT_HEAD)
        position, digest = cur.fetchone()
        return int(position), str(digest)

    def _end(self, conn: Any, cur: Any, *, commit: bool) -> None:
        if conn.in_transaction:
            cur.execute("COMMIT" if commit else "ROLLBACK")


class PostgresEventStore(EventStore):
    """PostgreSQL: the chain-head row, locked FOR UPDATE, serialises writers across processes."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.write_lock = nullcontext()  # row locks block precisely; projections run beside

    integrity_errors = (psycopg.IntegrityError,)
    unavailable_errors = (psycopg.OperationalError, psycopg.errors.QueryCanceled)

    def sql(self, text: str) -> str:
        """psycopg uses '%s' placeholders."""
        return text.replace("?", "%s")

    def _begin_write(self, cur: Any) -> None:
        return None  # psycopg opens the transaction with the first statement

    def _lock_head(self, cur: Any) -> tuple[int, str]:
        cur.execute(statements.SELECT_HEAD + " FOR UPDATE")
        position, digest = cur.fetchone()
        return int(position), str(digest)

    def _end(self, conn: Any, cur: Any, *, commit: bool) -> None:
        if commit:
            conn.commit()
        else:
            conn.rollback()


def create_store(db: Database) -> EventStore:
    """The event store for the configured backend."""
    return SQLiteEventStore(db) if db.backend == "sqlite" else PostgresEventStore(db)
