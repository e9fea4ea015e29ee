"""Locator: signing keys, revocations and the version row other processes poll.

Revision ID: locator_0001
Revises: platform_0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "locator_0001"
down_revision: str | Sequence[str] | None = "platform_0001"
branch_labels: str | Sequence[str] | None = ("locator",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the signing-key, revocation and state tables (kept in sync with locator.state.store)."""
    op.create_table(
        "locator_signing_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("algorithm", sa.String(16), nullable=False),
        sa.Column("public_x", sa.String(64), nullable=False),
        sa.Column("private_key", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retire_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("algorithm = 'EdDSA'", name="ck_locator_signing_keys_algorithm"),
    )
    op.create_table(
        "locator_revocations",
        sa.Column("jti", sa.String(128), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_locator_revocations_seq", "locator_revocations", ["seq"], unique=True)
    op.create_index("ix_locator_revocations_expires_at", "locator_revocations", ["expires_at"])
    state = op.create_table(
        "locator_state",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("revocation_seq", sa.BigInteger, nullable=False),
        sa.Column("keys_version", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(state, [{"id": 1, "revocation_seq": 0, "keys_version": 0}])


def downgrade() -> None:
    """Drop the locator tables."""
    op.drop_table("locator_state")
    op.drop_index("ix_locator_revocations_expires_at", table_name="locator_revocations")
    op.drop_index("ix_locator_revocations_seq", table_name="locator_revocations")
    op.drop_table("locator_revocations")
    op.drop_table("locator_signing_keys")
