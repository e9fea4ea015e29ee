"""Platform: honeytokens and their uses.

Revision ID: platform_0002
Revises: platform_0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "platform_0002"
down_revision: str | Sequence[str] | None = "platform_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create honeytokens (planted, by hash) and honeytoken_uses."""
    op.create_table(
        "honeytokens",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=True),
        sa.Column("decoy", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_honeytokens_token_hash", "honeytokens", ["token_hash"], unique=True)
    op.create_table(
        "honeytoken_uses",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("token_id", sa.String(32), sa.ForeignKey("honeytokens.id"), nullable=False),
        sa.Column("location", sa.String(64), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_honeytoken_uses_token_id", "honeytoken_uses", ["token_id"])


def downgrade() -> None:
    """Drop honeytoken_uses and honeytokens."""
    op.drop_index("ix_honeytoken_uses_token_id", table_name="honeytoken_uses")
    op.drop_table("honeytoken_uses")
    op.drop_index("ix_honeytokens_token_hash", table_name="honeytokens")
    op.drop_table("honeytokens")
