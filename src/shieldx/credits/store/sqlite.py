"""SQLite: BEGIN IMMEDIATE takes the database's single write lock up front; '?' placeholders."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from shieldx.credits.store import sql as statements
from shieldx.credits.store.base import EventStore
from shieldx.credits.store.commits import CommitStore


class SQLiteEventStore(EventStore):
    """SQLite: BEGIN IMMEDIATE takes the database's single write lock up front."""

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

    def commit_config(self) -> dict[str, Any]:
        """The database file, synchronous level and busy timeout of the platform's connections."""
        with self.reading() as cur:
            cur.execute("PRAGMA synchronous")
            level = ("OFF", "NORMAL", "FULL", "EXTRA")[int(cur.fetchone()[0])]
            cur.execute("PRAGMA busy_timeout")
            busy = int(cur.fetchone()[0])
        target = str(Path(self.db.engine.url.database or "").resolve())
        return {"backend": "sqlite", "target": target, "synchronous": level,
                "busy_timeout_ms": busy}  # fmt: skip


class SQLiteCommitStore(CommitStore):
    """SQLite: BEGIN IMMEDIATE takes the write lock; the connection runs in autocommit mode
    (isolation_level=None), so the transaction is ended by statement."""

    backend = "sqlite"
    conflicts = (sqlite3.IntegrityError,)
    unavailable = (sqlite3.Error,)

    @staticmethod
    def connect(config: dict[str, Any]) -> Any:
        """The database file CONFIG names, with the platform's pragmas."""
        busy_ms = int(config["busy_timeout_ms"])
        conn = sqlite3.connect(
            config["target"], isolation_level=None, check_same_thread=False, timeout=busy_ms / 1000
        )
        for pragma in (
            "journal_mode=WAL",
            f"synchronous={config['synchronous']}",
            f"busy_timeout={busy_ms}",
            "foreign_keys=ON",
            f"cache_size=-{int(config.get('cache_kib', 65536))}",
        ):
            conn.execute(f"PRAGMA {pragma}")
        return conn

    def _placeholders(self, text: str) -> str:
        return text

    def _begin(self, cur: Any) -> None:
        cur.execute("BEGIN IMMEDIATE")

    def _end(self, cur: Any, *, commit: bool) -> None:
        if self.conn.in_transaction:
            cur.execute("COMMIT" if commit else "ROLLBACK")

    def _lock_head(self, cur: Any) -> tuple[int, bytes]:
        cur.execute(statements.SELECT_HEAD)
        position, digest = cur.fetchone()
        return int(position), bytes.fromhex(digest)
