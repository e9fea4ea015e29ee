"""Credits sharding: the versioned shard map, each shard's identity, cross-shard transfers.

Revision ID: credits_0002
Revises: credits_0001
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "credits_0002"
down_revision: str | Sequence[str] | None = "credits_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the sharding tables (empty: one database stays the default)."""
    op.create_table(
        "credit_shard_map",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("url", sa.Text, nullable=True),
        sa.Column("virtual_nodes", sa.Integer, nullable=False),
        sa.Column("created_at_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "credit_shard_identity",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("ring_version", sa.Integer, nullable=False),
    )
    op.create_table(
        "credit_transfers",
        sa.Column("transfer_id", sa.String(64), primary_key=True),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("from_account", sa.String(128), nullable=False),
        sa.Column("to_account", sa.String(128), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("hold_id", sa.String(64), nullable=True),
        sa.Column("status", sa.Integer, nullable=True),
        sa.Column("response", sa.Text, nullable=True),
        sa.Column("created_at_us", sa.BigInteger, nullable=False),
        sa.Column("updated_at_us", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("tenant", "idempotency_key", name="uq_credit_transfers_key"),
    )
    op.create_index("ix_credit_transfers_state", "credit_transfers", ["state"])


def downgrade() -> None:
    """Drop the sharding tables."""
    op.drop_index("ix_credit_transfers_state", table_name="credit_transfers")
    op.drop_table("credit_transfers")
    op.drop_table("credit_shard_identity")
    op.drop_table("credit_shard_map")
