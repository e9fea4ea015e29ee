"""Shadow: an optional hash seed per A/B test (reproducible assignment).

Revision ID: shadow_0002
Revises: shadow_0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "shadow_0002"
down_revision: str | Sequence[str] | None = "shadow_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ab_tests.seed (NULL: units are hashed with the test id, as before)."""
    op.add_column("ab_tests", sa.Column("seed", sa.String(64), nullable=True))


def downgrade() -> None:
    """Drop ab_tests.seed."""
    with op.batch_alter_table("ab_tests") as batch:
        batch.drop_column("seed")
