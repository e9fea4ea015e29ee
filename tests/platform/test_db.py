"""The engine factory on both backends."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from shieldx.config import Settings
from shieldx.platform.db import Database, create_database


def test_write_and_read_back(database: Database) -> None:
    with database.write() as conn:
        conn.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
        conn.execute(sa.text("INSERT INTO t (id, v) VALUES (1, 'a')"))
    with database.read() as conn:
        assert conn.execute(sa.text("SELECT v FROM t WHERE id = 1")).scalar_one() == "a"
    database.ping()


def test_failed_write_changes_nothing(database: Database) -> None:
    with database.write() as conn:
        conn.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))

    def insert_twice() -> None:
        with database.write() as conn:
            conn.execute(sa.text("INSERT INTO t (id) VALUES (1)"))
            conn.execute(sa.text("INSERT INTO t (id) VALUES (1)"))

    with pytest.raises(sa.exc.IntegrityError):
        insert_twice()
    with database.read() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM t")).scalar_one() == 0


def test_sqlite_is_wal_durable_and_enforces_foreign_keys(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    db = create_database(make_settings(), url=f"sqlite:///{tmp_path / 'x' / 'f.db'}")
    try:
        assert db.backend == "sqlite"
        with db.read() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == 2  # FULL
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 5000
    finally:
        db.dispose()


def test_sqlite_write_transaction_takes_the_lock_up_front(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    db = create_database(
        make_settings(database={"busy_timeout": "100ms"}), url=f"sqlite:///{tmp_path / 'l.db'}"
    )
    try:
        with db.write() as conn:
            conn.execute(sa.text("CREATE TABLE t (id INTEGER)"))
        with db.write(), pytest.raises(sa.exc.OperationalError, match="locked"), db.write():
            pass
    finally:
        db.dispose()
