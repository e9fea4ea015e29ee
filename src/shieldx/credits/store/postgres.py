"""PostgreSQL: the chain-head row, locked FOR UPDATE, serialises writers across processes;
'%s' placeholders."""

from __future__ import annotations

from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

from shieldx.credits.store import sql as statements
from shieldx.credits.store.base import EventStore
from shieldx.credits.store.commits import CommitStore
from shieldx.credits.store.records import StoreUnavailable
from shieldx.platform.conninfo import libpq_conninfo
from shieldx.platform.dcs import DcsUnavailable, PatroniDcs

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
        """The server's libpq conninfo (with its password: the commit process connects on its
        own; every host of a multi-host URL), and the write fence when one is configured."""
        config: dict[str, Any] = {
            "backend": "postgresql",
            "target": libpq_conninfo(self.db.engine.url),
            "synchronous": "",
            "busy_timeout_ms": 0,
        }
        if self.db.fence is not None:
            config["fence"] = {"etcd": self.db.fence.etcd_url, "scope": self.db.fence.scope}
        return config


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
        """A psycopg connection to the DSN CONFIG names (not autocommit); with a fence, to
        the member Patroni's leader key names (the DSN's hosts while etcd cannot say)."""
        import psycopg

        timeout = int(config.get("connect_timeout", 10))
        route: dict[str, Any] = {}
        fence = config.get("fence")
        if fence:
            try:
                leader = PatroniDcs(fence["etcd"], fence["scope"]).leader()
                route = {"host": leader.host, "port": leader.port}
            except DcsUnavailable:
                pass  # the fence still refuses to acknowledge a write on a non-leader
        return psycopg.connect(config["target"], autocommit=False, connect_timeout=timeout, **route)

    def broken(self) -> bool:
        """The server closed the connection or went away."""
        return bool(self.conn.broken or self.conn.closed)

    def confirm(self) -> None:
        """The fence: the leader key must still name the server this batch committed on.

        The key is read after COMMIT returned, so a write acknowledged here was committed
        while this server led: Patroni promotes another member only after taking the key.
        On a server that no longer leads the connection is dropped (the next commit
        reconnects to the leader) and the batch is refused with 503 (its client retries
        with the same Idempotency-Key; what this server holds is rewound when it rejoins).
        """
        fence = self.config.get("fence")
        if not fence:
            return
        host, port = self.conn.info.host, int(self.conn.info.port)
        try:
            leader = PatroniDcs(fence["etcd"], fence["scope"]).leader()
        except DcsUnavailable as exc:
            raise StoreUnavailable(f"cannot confirm the write: {exc}") from exc
        if (leader.host, leader.port) != (host, port):
            self.conn.close()
            raise StoreUnavailable(
                f"fenced: this server ({host}:{port}) no longer leads; "
                f"{leader.name} at {leader.host}:{leader.port} does (epoch {leader.epoch})"
            )

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
