"""The credits migration runs up and down on both backends and matches tables.py exactly."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from shieldx.credits import tables
from shieldx.platform import migrations
from shieldx.platform.db import Database


def test_schema_matches_the_table_definitions(database: Database) -> None:
    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, tables.metadata)
    ours = set(tables.metadata.tables)
    relevant = [d for d in diff if _table_of(d) in ours]
    assert relevant == []


def test_down_and_up_again(database: Database) -> None:
    migrations.downgrade(database, "credits@base")
    assert "event_store" not in sa.inspect(database.engine).get_table_names()
    migrations.upgrade(database)
    with database.read() as conn:
        head = conn.execute(sa.select(tables.chain_head)).one()
        names = set(conn.execute(sa.select(tables.projection_tracking.c.name)).scalars())
    assert (head.position, head.hash) == (0, "0" * 64)
    assert names == set(tables.PROJECTIONS)


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
