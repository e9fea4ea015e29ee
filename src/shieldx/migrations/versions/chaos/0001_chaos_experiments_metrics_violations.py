"""Chaos: experiments, their observed metrics and safety violations.

Revision ID: chaos_0001
Revises: platform_0001
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "chaos_0001"
down_revision: str | Sequence[str] | None = "platform_0001"
branch_labels: str | Sequence[str] | None = ("chaos",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the chaos tables (kept in sync with shieldx.chaos.tables)."""
    op.create_table(
        "chaos_experiments",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("title", sa.String(512), nullable=False),
        sa.Column("fault_type", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rolled_back", sa.Boolean, nullable=False),
        sa.Column("rollback_s", sa.Float, nullable=True),
        sa.Column("recovery_s", sa.Float, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'completed', 'halted', 'failed')",
            name="ck_chaos_experiments_status",
        ),
    )
    op.create_index("ix_chaos_experiments_started_at", "chaos_experiments", ["started_at"])
    op.create_table(
        "chaos_metrics",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "experiment_id",
            sa.String(64),
            sa.ForeignKey("chaos_experiments.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("total_requests", sa.BigInteger, nullable=False),
        sa.Column("failed_requests", sa.BigInteger, nullable=False),
        sa.Column("error_rate", sa.Float, nullable=False),
        sa.Column("latency_avg_ms", sa.Float, nullable=False),
        sa.Column("latency_p95_ms", sa.Float, nullable=False),
        sa.Column("latency_p99_ms", sa.Float, nullable=False),
        sa.Column("circuit_breaker_trips", sa.Integer, nullable=False),
        sa.Column("recovery_s", sa.Float, nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_chaos_metrics_experiment_id", "chaos_metrics", ["experiment_id"])
    op.create_table(
        "chaos_safety_violations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("experiment_id", sa.String(64), nullable=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("observed", sa.Float, nullable=False),
        sa.Column("limit_value", sa.Float, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_chaos_safety_violations_experiment_id", "chaos_safety_violations", ["experiment_id"]
    )


def downgrade() -> None:
    """Drop the chaos tables."""
    op.drop_index("ix_chaos_safety_violations_experiment_id", "chaos_safety_violations")
    op.drop_table("chaos_safety_violations")
    op.drop_index("ix_chaos_metrics_experiment_id", "chaos_metrics")
    op.drop_table("chaos_metrics")
    op.drop_index("ix_chaos_experiments_started_at", "chaos_experiments")
    op.drop_table("chaos_experiments")
