"""Alembic driven from code: every component's branch, against the configured database."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from shieldx.platform.db import Database

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def version_locations() -> list[Path]:
    """One directory per component (platform, credits, …), each an Alembic branch."""
    return sorted(p for p in (MIGRATIONS_DIR / "versions").iterdir() if p.is_dir())


def alembic_config(db: Database | None = None) -> Config:
    """An Alembic Config pointing at the packaged scripts (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", _join(version_locations()))
    if db is not None:
        # configparser reads '%' as interpolation: a multi-host URL's %3A (or a password's
        # '%') must be doubled.
        url = db.engine.url.render_as_string(hide_password=False)
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _join(paths: list[Path]) -> str:
    return os.pathsep.join(str(p) for p in paths)


def _run(db: Database, action: str, revision: str) -> None:
    logging.getLogger("alembic.runtime.migration").setLevel(logging.INFO)
    cfg = alembic_config(db)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        if action == "upgrade":
            command.upgrade(cfg, revision)
        else:
            command.downgrade(cfg, revision)


metadata = sa.MetaData()
# Every applied migration with the backup taken before it (platform_0003); rows of a
# migration that is reverted go with it.
database_migrations = sa.Table(
    "database_migrations",
    metadata,
    sa.Column("revision", sa.String(64), primary_key=True),
    sa.Column("branch", sa.String(32), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("backup", sa.Text),
)


def upgrade(db: Database, revision: str = "heads", *, backup: str | None = None) -> None:
    """Apply migrations up to REVISION (all branches' heads by default).

    Each newly applied revision is recorded in database_migrations with BACKUP, the
    reference of the backup taken before (None when none was).
    """
    before = applied(db)
    _run(db, "upgrade", revision)
    _record(db, before, backup)


def downgrade(db: Database, revision: str) -> None:
    """Revert migrations down to REVISION ('base' reverts everything)."""
    _run(db, "downgrade", revision)
    _record(db, set(), None)


def applied(db: Database) -> set[str]:
    """Every revision applied to the database (the current ones and their ancestors)."""
    heads_now = tuple(current(db))
    if not heads_now:
        return set()
    script = ScriptDirectory.from_config(alembic_config())
    return {rev.revision for rev in script.iterate_revisions(heads_now, "base")}


def _record(db: Database, before: set[str], backup: str | None) -> None:
    if "database_migrations" not in sa.inspect(db.engine).get_table_names():
        return
    now_applied = applied(db)
    script = ScriptDirectory.from_config(alembic_config())
    new = [r for r in reversed(list(script.walk_revisions())) if r.revision in now_applied - before]
    t = database_migrations
    at = datetime.now(UTC)
    with db.engine.begin() as conn:
        conn.execute(t.delete().where(t.c.revision.not_in(now_applied)))
        for rev in new:
            conn.execute(t.delete().where(t.c.revision == rev.revision))
            conn.execute(
                t.insert().values(
                    revision=rev.revision,
                    branch=Path(rev.path).parent.name,
                    description=(rev.doc or "").strip()[:2000],
                    applied_at=at,
                    backup=backup,
                )
            )


def recorded(db: Database) -> list[dict[str, object]]:
    """database_migrations, oldest first."""
    t = database_migrations
    with db.engine.connect() as conn:
        rows = conn.execute(sa.select(t).order_by(t.c.applied_at, t.c.revision)).all()
    return [dict(row._mapping) for row in rows]


def current(db: Database) -> set[str]:
    """The revisions the database is at (one per branch)."""
    with db.engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def heads() -> set[str]:
    """The newest revision of every branch in the packaged scripts."""
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def is_current(db: Database) -> bool:
    """True when every branch is at its head."""
    return current(db) == heads()


@dataclass(frozen=True)
class RevisionInfo:
    """One entry of the migration history."""

    revision: str
    down_revision: str | None
    branch: str
    message: str
    is_head: bool


def history() -> list[RevisionInfo]:
    """Every revision, newest first."""
    script = ScriptDirectory.from_config(alembic_config())
    out: list[RevisionInfo] = []
    for rev in script.walk_revisions():
        down = rev.down_revision
        if isinstance(down, list | tuple):
            down = ",".join(down)
        out.append(
            RevisionInfo(
                revision=rev.revision,
                down_revision=down,
                branch=",".join(sorted(rev.branch_labels)) or Path(rev.path).parent.name,
                message=(rev.doc or "").strip().splitlines()[0] if rev.doc else "",
                is_head=rev.is_head,
            )
        )
    return out
