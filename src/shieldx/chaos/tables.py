"""The chaos engine's tables (the migration drift guard compares them with chaos_0001)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# One row per experiment run: its definition, outcome and the figures of its report.
experiments = sa.Table(
    "chaos_experiments",
    metadata,
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
sa.Index("ix_chaos_experiments_started_at", experiments.c.started_at)

# What was observed while an experiment ran (one row per run, written when it ends).
metrics = sa.Table(
    "chaos_metrics",
    metadata,
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
sa.Index("ix_chaos_metrics_experiment_id", metrics.c.experiment_id)

# Every breach of a safety limit; experiment_id is empty for faults injected outside one.
safety_violations = sa.Table(
    "chaos_safety_violations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("experiment_id", sa.String(64), nullable=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("observed", sa.Float, nullable=False),
    sa.Column("limit_value", sa.Float, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Index("ix_chaos_safety_violations_experiment_id", safety_violations.c.experiment_id)
