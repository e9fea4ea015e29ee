"""Platform: database_migrations, each applied migration with the backup taken before it.

Revision ID: platform_0003
Revises: platform_0002
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "platform_0003"
down_revision: str | Sequence[str] | None = "platform_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create database_migrations."""
    op.create_table(
        "database_migrations",
        sa.Column("revision", sa.String(64), primary_key=True),
        sa.Column("branch", sa.String(32), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("backup", sa.Text),
    )


def downgrade() -> None:
    """Drop database_migrations."""
    op.drop_table("database_migrations")
