"""A digest of a database's rows, to prove that a refused request changed nothing."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa

from shieldx.platform.db import Database


def fingerprint(db: Database, skip: frozenset[str] = frozenset()) -> dict[str, str]:
    """A digest of every table's rows (the schema version and SKIP aside)."""
    digests = {}
    with db.read() as conn:
        for table in sa.inspect(conn).get_table_names():
            if table == "alembic_version" or table in skip:
                continue
            # Table names come from the database's own catalogue, never from a request.
            rows = conn.execute(sa.text(f'SELECT * FROM "{table}"')).all()  # noqa: S608
            text = "\n".join(sorted(repr(tuple(row)) for row in rows))
            digests[table] = hashlib.sha256(text.encode()).hexdigest()
    return digests


def changed_tables(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The tables whose digest differs between two fingerprints, sorted."""
    return sorted(t for t in after.keys() | before.keys() if after.get(t) != before.get(t))
