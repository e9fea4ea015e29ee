"""The DR migration runs up and down on both backends and matches tables.py exactly."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from shieldx.dr import tables
from shieldx.platform import migrations
from shieldx.platform.db import Database


def test_schema_matches_the_table_definitions(database: Database) -> None:
    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, tables.metadata)
    ours = set(tables.metadata.tables)
    assert [d for d in diff if _table_of(d) in ours] == []


def test_down_and_up_again(database: Database) -> None:
    migrations.downgrade(database, "dr@base")
    names = set(sa.inspect(database.engine).get_table_names())
    assert names.isdisjoint(tables.metadata.tables)
    migrations.upgrade(database)
    names = set(sa.inspect(database.engine).get_table_names())
    assert set(tables.metadata.tables) <= names


def _table_of(diff: object) -> str | None:
    item = diff[0] if isinstance(diff, list) else diff
    for part in item if isinstance(item, tuple) else ():
        if isinstance(part, sa.Table):
            return part.name
        if isinstance(part, sa.Index | sa.UniqueConstraint) and part.table is not None:
            return part.table.name
        if isinstance(part, str) and part in tables.metadata.tables:
            return part
    return None
