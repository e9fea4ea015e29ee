"""Streaming replication lag of the PostgreSQL primary, read at scrape time.

On PostgreSQL each scrape of /metrics asks ``pg_stat_replication`` (one row per standby
streaming from this server) for how far each standby's replay trails the primary's WAL:
in seconds (``replay_lag``, 0 once caught up and idle) and in bytes (the WAL not yet
replayed). Standbys are few, so the ``standby`` label (its ``application_name``) is bounded.
The columns are NULL unless ShieldX's database role may read them: grant it ``pg_monitor``.
On SQLite, or on a standby, the families are listed without samples.
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
import structlog
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from shieldx.platform.db import Database

log = structlog.get_logger("shieldx.replication")

_LAG = sa.text(
    "SELECT application_name,"
    " COALESCE(EXTRACT(EPOCH FROM replay_lag), 0)::float8 AS seconds,"
    " COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0)::float8 AS bytes"
    " FROM pg_stat_replication WHERE NOT pg_is_in_recovery() ORDER BY application_name"
)


class ReplicationCollector(Collector):
    """database_replication_lag_seconds/bytes{standby} and database_replication_standbys."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def lag(self) -> list[tuple[str, float, float]]:
        """(standby, seconds, bytes) per streaming standby; [] on SQLite or when unreadable."""
        if self.db.backend != "postgresql":
            return []
        try:
            with self.db.read() as conn:
                conn.execute(sa.text("SET LOCAL statement_timeout = 2000"))
                rows = conn.execute(_LAG).all()
        except sa.exc.SQLAlchemyError as exc:
            log.warning("replication.lag_unreadable", error=type(exc).__name__)
            return []
        return [(str(r[0] or "standby"), float(r[1]), float(r[2])) for r in rows]

    def collect(self) -> Iterator[Metric]:
        """The lag of each standby (run by the /metrics route on a worker thread)."""
        seconds = GaugeMetricFamily(
            "database_replication_lag_seconds",
            "How far each standby's replay trails this PostgreSQL primary, in seconds.",
            labels=["standby"],
        )
        size = GaugeMetricFamily(
            "database_replication_lag_bytes",
            "WAL this PostgreSQL primary wrote that each standby has not replayed yet.",
            labels=["standby"],
        )
        standbys = GaugeMetricFamily(
            "database_replication_standbys", "Standbys streaming from this PostgreSQL primary."
        )
        found = self.lag()
        for name, lag_s, lag_b in found:
            seconds.add_metric([name], lag_s)
            size.add_metric([name], lag_b)
        if self.db.backend == "postgresql":
            standbys.add_metric([], len(found))
        yield seconds
        yield size
        yield standbys
