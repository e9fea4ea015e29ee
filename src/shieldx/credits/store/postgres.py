"""PostgreSQL: the chain-head row, locked FOR UPDATE, serialises writers across processes;
'%s' placeholders."""

from __future__ import annotations

from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

from shieldx.credits.store import sql as statements
from shieldx.credits.store.base import EventStore
from shieldx.credits.store.commits import CommitStore

if TYPE_CHECKING:
    from shieldx.platform.db import Database


class PostgresEventStore(EventStore):
    """PostgreSQL: the chain-head row, locked FOR UPDATE, serialises writers across processes."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.write_lock = nullcontext()  # row locks block precisely; projections run beside

    def sql(self, text: str) -> str:
        """psycopg uses '%s' placeholders."""
        return text.replace("%", "%%").replace("?", "%s")

    def _begin_write(self, cur: Any) -> None:
        return None  # psycopg opens the transaction with the first statement

    def _lock_head(self, cur: Any) -> tuple[int, str]:
        cur.execute(statements.SELECT_HEAD + " FOR UPDATE")
        position, digest = cur.fetchone()
        return int(position), str(digest)

    def _end(self, conn: Any, cur: Any, *, commit: bool) -> None:
        if commit:
            conn.commit()
        else:
            conn.rollback()

    def commit_config(self) -> dict[str, Any]:
        """The server's DSN (with its password: the commit process connects on its own)."""
        url = self.db.engine.url
        dsn = url.render_as_string(hide_password=False).replace("postgresql+psycopg", "postgresql")
        return {"backend": "postgresql", "target": dsn, "synchronous": "", "busy_timeout_ms": 0}


class PostgresCommitStore(CommitStore):
    """PostgreSQL: the chain-head row, locked FOR UPDATE, serialises writers; psycopg opens
    the transaction with the first statement."""

    backend = "postgresql"

    def __init__(self, conn: Any, **options: Any) -> None:
        import psycopg  # not imported by a commit process on SQLite

        self.conflicts = (psycopg.IntegrityError,)
        self.unavailable = (psycopg.Error,)
        super().__init__(conn, **options)

    @staticmethod
    def connect(config: dict[str, Any]) -> Any:
        """A psycopg connection to the DSN CONFIG names (not autocommit)."""
        import psycopg

        timeout = int(config.get("connect_timeout", 10))
        return psycopg.connect(config["target"], autocommit=False, connect_timeout=timeout)

    def _placeholders(self, text: str) -> str:
        return text.replace("%", "%%").replace("?", "%s")

    def _begin(self, cur: Any) -> None:
        return None

    def _end(self, cur: Any, *, commit: bool) -> None:
        if commit:
            self.conn.commit()
        else:
            self.conn.rollback()

    def _lock_head(self, cur: Any) -> tuple[int, bytes]:
        cur.execute(statements.SELECT_HEAD + " FOR UPDATE")
        position, digest = cur.fetchone()
        return int(position), bytes.fromhex(digest)
