"""Disaster recovery: regions, replication measurements, failover history, health checks.

Revision ID: dr_0001
Revises: platform_0001
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "dr_0001"
down_revision: str | Sequence[str] | None = "platform_0001"
branch_labels: str | Sequence[str] | None = ("dr",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the DR tables (kept in sync with shieldx.dr.tables)."""
    op.create_table(
        "cloud_regions",
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
        sa.CheckConstraint(
            "role IN ('primary', 'standby', 'unknown')", name="ck_cloud_regions_role"
        ),
        sa.CheckConstraint(
            "status IN ('healthy', 'degraded', 'down', 'fenced')", name="ck_cloud_regions_status"
        ),
    )
    op.create_table(
        "replication_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("lag_bytes", sa.BigInteger, nullable=True),
        sa.Column("lag_seconds", sa.Float, nullable=True),
        sa.Column("measured_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_replication_log_measured_at", "replication_log", ["measured_at"])
    op.create_table(
        "failover_history",
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
    op.create_index("ix_failover_history_started_at", "failover_history", ["started_at"])
    op.create_table(
        "health_checks",
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
    op.create_index("ix_health_checks_checked_at", "health_checks", ["checked_at"])


def downgrade() -> None:
    """Drop the DR tables."""
    op.drop_index("ix_health_checks_checked_at", table_name="health_checks")
    op.drop_table("health_checks")
    op.drop_index("ix_failover_history_started_at", table_name="failover_history")
    op.drop_table("failover_history")
    op.drop_index("ix_replication_log_measured_at", table_name="replication_log")
    op.drop_table("replication_log")
    op.drop_table("cloud_regions")
