"""Alembic branches run up and down on both backends."""

from __future__ import annotations

import sqlalchemy as sa

from shieldx.platform import migrations
from shieldx.platform.db import Database


def _tables(db: Database) -> set[str]:
    return set(sa.inspect(db.engine).get_table_names())


def test_up_down_up(database: Database) -> None:
    assert migrations.is_current(database)
    assert "api_keys" in _tables(database)
    migrations.downgrade(database, "base")
    assert migrations.current(database) == set()
    assert "api_keys" not in _tables(database)
    assert not migrations.is_current(database)
    migrations.upgrade(database)
    assert migrations.current(database) == migrations.heads()


def test_every_component_branch_has_a_head() -> None:
    branches = {p.name for p in migrations.version_locations()}
    assert "platform" in branches
    labels = {rev.branch for rev in migrations.history()}
    assert "platform" in labels
    assert migrations.heads()


def test_history_is_newest_first_and_linked() -> None:
    revisions = {rev.revision: rev for rev in migrations.history()}
    for rev in revisions.values():
        for parent in (rev.down_revision or "").split(","):
            assert not parent or parent in revisions
