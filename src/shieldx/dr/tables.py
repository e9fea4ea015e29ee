"""The disaster-recovery engine's tables (the migration drift guard compares them with dr_0001)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# One row per configured region: its role as last seen and the fencing epoch it was given.
cloud_regions = sa.Table(
    "cloud_regions",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("provider", sa.String(64), nullable=False),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("health_score", sa.Float, nullable=False),
    sa.Column("consecutive_failures", sa.Integer, nullable=False),
    # The leader key's revision when this region last became primary (the fencing epoch).
    sa.Column("epoch", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role IN ('primary', 'standby', 'unknown')", name="ck_cloud_regions_role"),
    sa.CheckConstraint(
        "status IN ('healthy', 'degraded', 'down', 'fenced')", name="ck_cloud_regions_status"
    ),
)

# Replication as measured at each health check of a standby region.
replication_log = sa.Table(
    "replication_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("region", sa.String(64), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("lag_bytes", sa.BigInteger, nullable=True),
    sa.Column("lag_seconds", sa.Float, nullable=True),
    sa.Column("measured_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Index("ix_replication_log_measured_at", replication_log.c.measured_at)

# Every failover and failback, with its six steps (JSON: name, at, duration_s, detail).
failover_history = sa.Table(
    "failover_history",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("from_region", sa.String(64), nullable=False),
    sa.Column("to_region", sa.String(64), nullable=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("steps", sa.Text, nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('failover', 'failback')", name="ck_failover_history_kind"),
    sa.CheckConstraint(
        "status IN ('running', 'completed', 'failed')", name="ck_failover_history_status"
    ),
)
sa.Index("ix_failover_history_started_at", failover_history.c.started_at)

# One row per region per health check: what was probed and the score it gave.
health_checks = sa.Table(
    "health_checks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("region", sa.String(64), nullable=False),
    sa.Column("connected", sa.Boolean, nullable=False),
    sa.Column("writable", sa.Boolean, nullable=False),
    sa.Column("lag_bytes", sa.BigInteger, nullable=True),
    sa.Column("lag_seconds", sa.Float, nullable=True),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Index("ix_health_checks_checked_at", health_checks.c.checked_at)
