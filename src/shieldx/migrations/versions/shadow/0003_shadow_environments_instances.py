"""Shadow: deployment environments (blue/green/canary/stable) and gateway instances' health.

Revision ID: shadow_0003
Revises: shadow_0002
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "shadow_0003"
down_revision: str | Sequence[str] | None = "shadow_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _at(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    """Create deployment_environments and deployment_instances."""
    op.create_table(
        "deployment_environments",
        sa.Column("tenant", sa.String(128), primary_key=True),
        sa.Column("environment", sa.String(16), primary_key=True),
        sa.Column("ruleset_name", sa.String(64), nullable=False),
        sa.Column("ruleset_version", sa.Integer, nullable=False),
        sa.Column("percentage", sa.Float, nullable=False),
        sa.Column("deployment_id", sa.String(32)),
        _at("updated_at"),
        sa.CheckConstraint(
            "environment IN ('blue', 'green', 'canary', 'stable')",
            name="ck_deployment_environments_environment",
        ),
    )
    op.create_table(
        "deployment_instances",
        sa.Column("tenant", sa.String(128), primary_key=True),
        sa.Column("gateway_id", sa.String(128), primary_key=True),
        _at("last_heartbeat_at"),
        sa.Column("requests", sa.BigInteger, nullable=False),
        sa.Column("error_rate", sa.Float, nullable=False),
        sa.Column("latency_p95_ms", sa.Float, nullable=False),
    )


def downgrade() -> None:
    """Drop deployment_instances and deployment_environments."""
    op.drop_table("deployment_instances")
    op.drop_table("deployment_environments")
