"""Compliance: frameworks, controls, checks, reports, evidence, remediation plans, alerts.

Revision ID: compliance_0001
Revises: platform_0001
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "compliance_0001"
down_revision: str | Sequence[str] | None = "platform_0001"
branch_labels: str | Sequence[str] | None = ("compliance",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the compliance tables (kept in sync with shieldx.compliance.tables)."""
    op.create_table(
        "compliance_frameworks",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("loaded_at_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "compliance_controls",
        sa.Column("framework", sa.String(64), primary_key=True),
        sa.Column("control_id", sa.String(64), primary_key=True),
        sa.Column("title", sa.String(300), nullable=False),
    )
    op.create_table(
        "control_checks",
        sa.Column("framework", sa.String(64), primary_key=True),
        sa.Column("control_id", sa.String(64), primary_key=True),
        sa.Column("check_id", sa.String(64), primary_key=True),
        sa.Column("severity", sa.String(16), nullable=False),
    )
    op.create_table(
        "compliance_reports",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("created_at_us", sa.BigInteger, nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("overall", sa.Float, nullable=False),
        sa.Column("result", sa.Text, nullable=False),
    )
    op.create_index("ix_compliance_reports_created", "compliance_reports", ["created_at_us"])
    op.create_table(
        "compliance_evidence",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("report_id", sa.String(32), nullable=False),
        sa.Column("check_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("collected_at_us", sa.BigInteger, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_compliance_evidence_report", "compliance_evidence", ["report_id"])
    op.create_table(
        "remediation_plans",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("framework", sa.String(64), nullable=False),
        sa.Column("control_id", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("recommendation", sa.Text, nullable=False),
        sa.Column("owner", sa.String(200)),
        sa.Column("due_at_us", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("opened_by_report", sa.String(32), nullable=False),
        sa.Column("created_at_us", sa.BigInteger, nullable=False),
        sa.Column("updated_at_us", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_remediation_plans_control", "remediation_plans", ["framework", "control_id", "state"]
    )
    op.create_table(
        "compliance_alerts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("dedupe_key", sa.String(200), nullable=False, unique=True),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("created_at_us", sa.BigInteger, nullable=False),
        sa.Column("deadline_at_us", sa.BigInteger),
        sa.Column("acknowledged_at_us", sa.BigInteger),
        sa.Column("acknowledged_by", sa.String(64)),
        sa.Column("escalated_at_us", sa.BigInteger),
        sa.Column("deliveries", sa.Text, nullable=False),
    )


def downgrade() -> None:
    """Drop the compliance tables."""
    op.drop_table("compliance_alerts")
    op.drop_index("ix_remediation_plans_control", table_name="remediation_plans")
    op.drop_table("remediation_plans")
    op.drop_index("ix_compliance_evidence_report", table_name="compliance_evidence")
    op.drop_table("compliance_evidence")
    op.drop_index("ix_compliance_reports_created", table_name="compliance_reports")
    op.drop_table("compliance_reports")
    op.drop_table("control_checks")
    op.drop_table("compliance_controls")
    op.drop_table("compliance_frameworks")
