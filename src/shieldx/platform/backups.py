"""Database backups and restores: SQLite's online backup API, PostgreSQL's pg_dump/pg_restore."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL

from shieldx.platform import migrations
from shieldx.platform.db import Database

BACKUP_DIR = "backups"
_SQLITE_HEADER = b"SQLite format 3\x00"
_PG_CUSTOM_HEADER = b"PGDMP"


class BackupError(Exception):
    """A backup or restore could not be made; the message says why and what to do."""


def default_path(db: Database, data_dir: Path, now: datetime | None = None) -> Path:
    """`<data_dir>/backups/<UTC timestamp>-<revisions>.<sqlite3|dump>` for DB as it is now."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    revision = "+".join(sorted(migrations.current(db))) or "base"
    suffix = "sqlite3" if db.backend == "sqlite" else "dump"
    return data_dir / BACKUP_DIR / f"{stamp}-{revision}.{suffix}"


def needs_backup(db: Database) -> bool:
    """True when the database holds migrated data and some migration is still pending."""
    current = migrations.current(db)
    return bool(current) and current != migrations.heads()


def backup(db: Database, output: Path) -> Path:
    """Write a consistent copy of DB to OUTPUT (made whole under a temporary name first)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    try:
        if db.backend == "sqlite":
            _sqlite_copy(_sqlite_file(db), partial)
        else:
            _pg_tool(
                "pg_dump",
                db,
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                "-f",
                str(partial),
            )
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
    return output


def restore(db: Database, source: Path) -> None:
    """Replace every table of DB with the contents of the backup SOURCE."""
    if not source.is_file():
        raise BackupError(f"no backup file at {source}")
    with source.open("rb") as handle:
        header = handle.read(16)
    db.dispose()  # no pooled connection may keep reading the old contents
    if db.backend == "sqlite":
        if header != _SQLITE_HEADER:
            raise BackupError(
                f"{source} is not a SQLite backup (a PostgreSQL dump needs PostgreSQL)"
            )
        _sqlite_copy(source, _sqlite_file(db))
        return
    if not header.startswith(_PG_CUSTOM_HEADER):
        raise BackupError(f"{source} is not a pg_dump custom-format backup")
    # Tables made by migrations newer than the backup must go too, so the whole schema is
    # emptied rather than only the objects the dump names (pg_restore --clean).
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    db.dispose()
    _pg_tool(
        "pg_restore",
        db,
        "--no-owner",
        "--no-privileges",
        "--single-transaction",
        "--exit-on-error",
        str(source),
        database_flag="-d",
    )


def tables(db: Database) -> list[str]:
    """The tables DB holds now, sorted."""
    return sorted(sa.inspect(db.engine).get_table_names())


def _sqlite_file(db: Database) -> Path:
    name = db.engine.url.database
    if not name or name == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(name)


def _sqlite_copy(source: Path, target: Path) -> None:
    # The online backup API copies a consistent snapshot page by page, WAL included, while
    # other connections keep working; copying the file would not.
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def _pg_binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    from shieldx.platform.postgres_local import PostgresUnavailable, find_bindir

    try:
        candidate = find_bindir() / name
    except PostgresUnavailable:
        candidate = None
    if candidate is not None and candidate.exists():
        return str(candidate)
    raise BackupError(f"{name} not found: apt-get install -y postgresql-client")


def _pg_tool(tool: str, db: Database, *args: str, database_flag: str = "--dbname") -> None:
    url: URL = db.engine.url
    # libpq takes the URL without SQLAlchemy's driver suffix; the password goes through the
    # environment so that it never shows in the process list.
    target = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    done = subprocess.run(
        [_pg_binary(tool), database_flag, target, *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=3600,
    )
    if done.returncode != 0:
        raise BackupError(f"{tool} failed (exit {done.returncode}): {done.stderr.strip()}")


def dropped_by_downgrade(db: Database, revision: str) -> dict[str, int]:
    """The tables a downgrade to REVISION would drop, with their row counts (a dry run: the
    downgrade runs inside a transaction that is rolled back; both backends' DDL is
    transactional)."""
    from alembic import command

    before = set(tables(db))
    counts = {}
    with db.engine.connect() as conn:
        for name in sorted(before):
            counts[name] = conn.execute(
                sa.select(sa.func.count()).select_from(sa.table(name))
            ).scalar_one()
        conn.rollback()
        transaction = conn.begin()
        try:
            cfg = migrations.alembic_config(db)
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, revision)
            after = set(sa.inspect(conn).get_table_names())
        finally:
            transaction.rollback()
    return {name: counts[name] for name in sorted(before - after)}
