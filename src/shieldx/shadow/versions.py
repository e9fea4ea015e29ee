"""The two change counters other processes poll, and the cheap way to read them.

A write that another process must notice (the enforced split, a test starting or ending,
a flag changing) bumps `routing_version` or `flags_version` in its own transaction. A
process compares the counters with what it last loaded and reloads only when one moved.
"""

from __future__ import annotations

import sqlite3
import urllib.parse
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa

from shieldx.platform.db import Database
from shieldx.shadow.tables import STATE_ROW, shadow_state

VersionColumn = Literal["routing_version", "flags_version"]


@dataclass(frozen=True, slots=True)
class Versions:
    """The change counters at one moment."""

    routing: int
    flags: int


_READ = sa.select(shadow_state.c.routing_version, shadow_state.c.flags_version).where(
    shadow_state.c.id == STATE_ROW
)


def read_versions(conn: sa.Connection) -> Versions:
    """The counters as seen by CONN's transaction."""
    row = conn.execute(_READ).one()
    return Versions(routing=int(row[0]), flags=int(row[1]))


def bump(conn: sa.Connection, counter: VersionColumn) -> None:
    """Increment one counter inside the caller's write transaction."""
    column = shadow_state.c[counter]
    conn.execute(
        shadow_state.update().where(shadow_state.c.id == STATE_ROW).values({column: column + 1})
    )


class SqliteVersionProbe:
    """Reads the counters on the caller's thread through a private read-only connection.

    In WAL mode a reader never waits for a writer, so the primary-key lookup costs a few
    microseconds; a short busy timeout bounds the rare wait (WAL recovery), after which the
    caller falls back to a query in a worker thread.
    """

    _QUERY = "SELECT routing_version, flags_version FROM shadow_state WHERE id = 1"

    def __init__(self, path: str, *, busy_timeout: float = 0.05) -> None:
        self._uri = f"file:{urllib.parse.quote(path)}?mode=ro"
        self._busy_timeout = busy_timeout
        self._conn: sqlite3.Connection | None = None

    def read(self) -> Versions | None:
        """The counters, or None when SQLite cannot answer right now."""
        try:
            if self._conn is None:
                self._conn = sqlite3.connect(
                    self._uri,
                    uri=True,
                    timeout=self._busy_timeout,
                    isolation_level=None,  # autocommit: each SELECT sees the latest commit
                    check_same_thread=False,
                )
            row = self._conn.execute(self._QUERY).fetchone()
        except sqlite3.Error:
            self.close()
            return None
        return None if row is None else Versions(routing=int(row[0]), flags=int(row[1]))

    def close(self) -> None:
        """Close the connection (reopened by the next read)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def version_probe(db: Database) -> SqliteVersionProbe | None:
    """An inline probe where the backend allows one (a SQLite file); None: use a thread."""
    path = db.engine.url.database
    if db.backend != "sqlite" or not path or path == ":memory:":
        return None
    return SqliteVersionProbe(path)


def fetch_versions(db: Database) -> Versions:
    """Blocking: the counters, read in a short transaction."""
    with db.read() as conn:
        return read_versions(conn)
