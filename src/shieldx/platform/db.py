"""One engine factory for the embedded SQLite file and for PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from shieldx.config import Settings
from shieldx.platform.dcs import DcsUnavailable, PatroniDcs

Backend = Literal["sqlite", "postgresql"]


@dataclass(frozen=True)
class Database:
    """An engine plus what callers need to know about it; backend-specific work lives here."""

    engine: Engine
    backend: Backend
    # Patroni's leader key, when disaster_recovery.etcd is set: new connections go to the
    # leader and the credits commit process fences its writes with it (platform/dcs.py).
    fence: PatroniDcs | None = None

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection inside a (deferred) transaction, for reads."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that holds the write lock from its first statement.

        On SQLite this is BEGIN IMMEDIATE: a deferred transaction that reads and then
        writes can fail with SQLITE_BUSY without waiting, which IMMEDIATE avoids.
        """
        options: dict[str, Any] = {"sqlite_begin": "IMMEDIATE"} if self.backend == "sqlite" else {}
        with self.engine.connect().execution_options(**options) as conn, conn.begin():
            yield conn

    def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def create_database(settings: Settings, *, url: str | None = None) -> Database:
    """Create the engine for the configured database (the SQLite file by default)."""
    target = make_url(url or settings.database_url)
    if target.get_backend_name() == "sqlite":
        return _sqlite(settings, str(target))
    if target.get_backend_name() == "postgresql":
        engine = create_engine(
            target,
            pool_size=settings.database.pool_size,
            max_overflow=settings.database.pool_size,
            pool_pre_ping=True,
            echo=settings.database.echo,
        )
        dr = settings.disaster_recovery
        fence = PatroniDcs(dr.etcd, dr.scope) if dr.etcd else None
        if fence is not None:
            _route_to_leader(engine, fence)
        return Database(engine=engine, backend="postgresql", fence=fence)
    raise ValueError(f"unsupported database backend {target.get_backend_name()!r}")


def _route_to_leader(engine: Engine, fence: PatroniDcs) -> None:
    """Open each new connection on the member Patroni's leader key names.

    A member whose Patroni died may still run a read-write PostgreSQL after another was
    promoted; target_session_attrs=read-write alone could pick it. While etcd cannot say,
    the URL's own hosts are used (and the commit fence refuses to acknowledge writes).
    """

    @event.listens_for(engine, "do_connect")
    def _leader(dialect: object, record: object, cargs: object, cparams: dict[str, Any]) -> None:
        try:
            leader = fence.leader()
        except DcsUnavailable:
            return
        cparams["host"], cparams["port"] = leader.host, leader.port


def _sqlite(settings: Settings, url: str) -> Database:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    busy_ms = int(settings.database.busy_timeout.total_seconds() * 1000)
    synchronous = settings.database.sqlite_synchronous
    engine = create_engine(
        url,
        pool_size=settings.database.pool_size,
        max_overflow=settings.database.pool_size,
        echo=settings.database.echo,
        connect_args={"check_same_thread": False, "timeout": busy_ms / 1000},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        # Let SQLAlchemy's "begin" event, not pysqlite, decide when transactions start.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return Database(engine=engine, backend="sqlite")
