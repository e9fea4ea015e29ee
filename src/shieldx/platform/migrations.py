"""Alembic driven from code: every component's branch, against the configured database."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

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


def upgrade(db: Database, revision: str = "heads") -> None:
    """Apply migrations up to REVISION (all branches' heads by default)."""
    _run(db, "upgrade", revision)


def downgrade(db: Database, revision: str) -> None:
    """Revert migrations down to REVISION ('base' reverts everything)."""
    _run(db, "downgrade", revision)


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
