"""Choose the backend subclass: the reading store for a Database, the commit store for a
commit-process configuration."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shieldx.credits.store.base import EventStore
from shieldx.credits.store.commits import CommitStore
from shieldx.credits.store.postgres import PostgresCommitStore, PostgresEventStore
from shieldx.credits.store.sqlite import SQLiteCommitStore, SQLiteEventStore

if TYPE_CHECKING:
    from shieldx.platform.db import Database


def create_store(db: Database) -> EventStore:
    """The event store for the configured backend."""
    return SQLiteEventStore(db) if db.backend == "sqlite" else PostgresEventStore(db)


def open_commit_store(
    config: dict[str, Any], *, project_interval: float, project_chunk: int
) -> CommitStore:
    """A commit store on a new connection to the database CONFIG (EventStore.commit_config)
    describes."""
    kind = SQLiteCommitStore if config["backend"] == "sqlite" else PostgresCommitStore
    store = kind(
        kind.connect(config), project_interval=project_interval, project_chunk=project_chunk
    )
    store.config = config
    return store
