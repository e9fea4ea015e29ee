"""Shadow: rule sets, A/B tests, deployments, the enforced split, gateways and feature flags.

Revision ID: shadow_0001
Revises: platform_0001
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "shadow_0001"
down_revision: str | Sequence[str] | None = "platform_0001"
branch_labels: str | Sequence[str] | None = ("shadow",)
depends_on: str | Sequence[str] | None = None

TENANT = 128


def _counters(*names: str) -> list[sa.Column[int]]:
    return [sa.Column(name, sa.BigInteger, nullable=False, server_default="0") for name in names]


def _at(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create the shadow tables (kept in sync with shieldx.shadow.tables)."""
    state = op.create_table(
        "shadow_state",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("routing_version", sa.BigInteger, nullable=False),
        sa.Column("flags_version", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(state, [{"id": 1, "routing_version": 0, "flags_version": 0}])
    op.create_table(
        "shadow_rulesets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(TENANT), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("on_error", sa.String(16), nullable=False),
        sa.Column("rules", sa.Text, nullable=False),
        sa.Column("rule_count", sa.Integer, nullable=False),
        _at("created_at"),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.UniqueConstraint("tenant", "name", "version", name="uq_shadow_rulesets_version"),
    )
    op.create_table(
        "ab_tests",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("tenant", sa.String(TENANT), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("metric", sa.String(32), nullable=False),
        sa.Column("split", sa.Float, nullable=False),
        sa.Column("prior", sa.Text, nullable=False),
        sa.Column("min_samples", sa.Integer, nullable=False),
        sa.Column("sticky_key", sa.String(300), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("winner", sa.String(16), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        _at("created_at"),
        _at("decided_at", nullable=True),
        _at("stopped_at", nullable=True),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.CheckConstraint(
            "status IN ('running', 'decided', 'stopped')", name="ck_ab_tests_status"
        ),
    )
    op.create_index("ix_ab_tests_tenant_status", "ab_tests", ["tenant", "status"])
    op.create_table(
        "ab_test_variants",
        sa.Column("test_id", sa.String(32), sa.ForeignKey("ab_tests.id"), primary_key=True),
        sa.Column("variant", sa.String(16), primary_key=True),
        sa.Column("ruleset_name", sa.String(64), nullable=False),
        sa.Column("ruleset_version", sa.Integer, nullable=False),
        sa.Column("traffic_percentage", sa.Float, nullable=False),
        *_counters(
            "n",
            "blocks",
            "true_positives",
            "false_positives",
            "true_negatives",
            "false_negatives",
            "errors",
        ),
    )
    op.create_table(
        "ab_test_results",
        sa.Column("test_id", sa.String(32), sa.ForeignKey("ab_tests.id"), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("key", sa.String(160), primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "ab_test_blast_clients",
        sa.Column("test_id", sa.String(32), sa.ForeignKey("ab_tests.id"), primary_key=True),
        sa.Column("client", sa.String(64), primary_key=True),
    )
    op.create_table(
        "ab_test_client_sketches",
        sa.Column("test_id", sa.String(32), sa.ForeignKey("ab_tests.id"), primary_key=True),
        sa.Column("registers", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "deployments",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("tenant", sa.String(TENANT), nullable=False),
        sa.Column("strategy", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("target_name", sa.String(64), nullable=False),
        sa.Column("target_version", sa.Integer, nullable=False),
        sa.Column("previous_name", sa.String(64), nullable=True),
        sa.Column("previous_version", sa.Integer, nullable=True),
        sa.Column("test_id", sa.String(32), nullable=True),
        sa.Column("plan", sa.Text, nullable=False),
        sa.Column("policy", sa.Text, nullable=False),
        sa.Column("sticky_key", sa.String(300), nullable=False),
        sa.Column("stage_index", sa.Integer, nullable=False),
        sa.Column("stage_seq", sa.Integer, nullable=False),
        _at("stage_started_at"),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        _at("created_at"),
        _at("updated_at"),
        _at("finished_at", nullable=True),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.CheckConstraint(
            "status IN ('running', 'paused', 'completed', 'rolled_back', 'aborted')",
            name="ck_deployments_status",
        ),
    )
    op.create_index("ix_deployments_tenant_status", "deployments", ["tenant", "status"])
    op.create_table(
        "deployment_stages",
        sa.Column(
            "deployment_id", sa.String(32), sa.ForeignKey("deployments.id"), primary_key=True
        ),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("stage_index", sa.Integer, nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("percentage", sa.Float, nullable=False),
        _at("started_at"),
        _at("ended_at", nullable=True),
        sa.Column("verdict", sa.String(16), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("checks", sa.Text, nullable=True),
        *_counters("requests", "blocks", "baseline_blocks", "errors", "benign", "false_positives"),
    )
    op.create_table(
        "traffic_rules",
        sa.Column("tenant", sa.String(TENANT), primary_key=True),
        sa.Column("stable_name", sa.String(64), nullable=True),
        sa.Column("stable_version", sa.Integer, nullable=True),
        sa.Column("candidate_name", sa.String(64), nullable=True),
        sa.Column("candidate_version", sa.Integer, nullable=True),
        sa.Column("candidate_percentage", sa.Float, nullable=False),
        sa.Column("candidate_gateways", sa.Text, nullable=True),
        sa.Column("deployment_id", sa.String(32), nullable=True),
        sa.Column("stage_seq", sa.Integer, nullable=True),
        sa.Column("phase", sa.String(16), nullable=True),
        sa.Column("sticky_key", sa.String(300), nullable=False),
        _at("updated_at"),
    )
    op.create_table(
        "rollback_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("deployment_id", sa.String(32), sa.ForeignKey("deployments.id"), nullable=False),
        sa.Column("tenant", sa.String(TENANT), nullable=False),
        sa.Column("from_name", sa.String(64), nullable=False),
        sa.Column("from_version", sa.Integer, nullable=False),
        sa.Column("to_name", sa.String(64), nullable=True),
        sa.Column("to_version", sa.Integer, nullable=True),
        sa.Column("stage_index", sa.Integer, nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        _at("rolled_back_at"),
    )
    op.create_index("ix_rollback_history_deployment", "rollback_history", ["deployment_id"])
    op.create_table(
        "deployment_gateways",
        sa.Column("tenant", sa.String(TENANT), primary_key=True),
        sa.Column("gateway_id", sa.String(128), primary_key=True),
        sa.Column("description", sa.String(500), nullable=False),
        _at("registered_at"),
    )
    op.create_table(
        "feature_flags",
        sa.Column("tenant", sa.String(TENANT), primary_key=True),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        _at("created_at"),
        _at("updated_at"),
    )


def downgrade() -> None:
    """Drop the shadow tables."""
    op.drop_table("feature_flags")
    op.drop_table("deployment_gateways")
    op.drop_index("ix_rollback_history_deployment", table_name="rollback_history")
    op.drop_table("rollback_history")
    op.drop_table("traffic_rules")
    op.drop_table("deployment_stages")
    op.drop_index("ix_deployments_tenant_status", table_name="deployments")
    op.drop_table("deployments")
    op.drop_table("ab_test_client_sketches")
    op.drop_table("ab_test_blast_clients")
    op.drop_table("ab_test_results")
    op.drop_table("ab_test_variants")
    op.drop_index("ix_ab_tests_tenant_status", table_name="ab_tests")
    op.drop_table("ab_tests")
    op.drop_table("shadow_rulesets")
    op.drop_table("shadow_state")
