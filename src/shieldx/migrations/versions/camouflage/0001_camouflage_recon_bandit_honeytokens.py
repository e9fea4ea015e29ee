"""Camouflage: recon events, sessions, bandit arms, honeytoken links, generated data, state.

Revision ID: camouflage_0001
Revises: platform_0001
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "camouflage_0001"
down_revision: str | Sequence[str] | None = "platform_0001"
branch_labels: str | Sequence[str] | None = ("camouflage",)
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _float(name: str, *, nullable: bool = False) -> sa.Column[float]:
    return sa.Column(name, sa.Float, nullable=nullable)


def upgrade() -> None:
    """Create the camouflage tables (kept in sync with shieldx.camouflage.tables)."""
    op.create_table(
        "camouflage_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("event", sa.String(48), nullable=False),
        _float("ts"),
        sa.Column("session_id", sa.String(32), nullable=True),
        sa.Column("decoy", sa.String(64), nullable=True),
        sa.Column("source_ip", sa.String(64), nullable=True),
        sa.Column("method", sa.String(32), nullable=True),
        sa.Column("path", sa.Text, nullable=True),
        sa.Column("status", sa.Integer, nullable=True),
        sa.Column("scanner", sa.String(32), nullable=True),
        sa.Column("attack_types", sa.String(200), nullable=True),
        sa.Column("document", sa.Text, nullable=False),
    )
    op.create_index("ix_camouflage_events_session", "camouflage_events", ["session_id", "id"])
    op.create_index("ix_camouflage_events_ts", "camouflage_events", ["ts"])
    op.create_table(
        "camouflage_sessions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("decoy", sa.String(64), nullable=False),
        sa.Column("template", sa.String(64), nullable=False),
        sa.Column("source_ip", sa.String(64), nullable=False),
        sa.Column("source_port", sa.Integer, nullable=False),
        sa.Column("user_agent", sa.String(512), nullable=False),
        sa.Column("via", sa.String(16), nullable=False),
        _float("started_at"),
        _float("last_seen"),
        _float("ended_at"),
        sa.Column("close_reason", sa.String(16), nullable=False),
        sa.Column("requests", sa.Integer, nullable=False),
        sa.Column("distinct_paths", sa.Integer, nullable=False),
        sa.Column("maze_depth", sa.Integer, nullable=False),
        sa.Column("honeytokens_taken", sa.Integer, nullable=False),
        sa.Column("honeytokens_used", sa.Integer, nullable=False),
        sa.Column("scanner", sa.String(32), nullable=False),
        sa.Column("tool", sa.String(64), nullable=False),
        sa.Column("attack_types", sa.Text, nullable=False),
        sa.Column("attack_tags", sa.String(300), nullable=False),
        sa.Column("engaged", sa.Boolean, nullable=False),
        sa.Column("linked_to", sa.String(32), nullable=True),
    )
    op.create_index("ix_camouflage_sessions_last_seen", "camouflage_sessions", ["last_seen"])
    op.create_index("ix_camouflage_sessions_decoy", "camouflage_sessions", ["decoy", "last_seen"])
    op.create_index("ix_camouflage_sessions_linked_to", "camouflage_sessions", ["linked_to"])
    op.create_table(
        "camouflage_bandit_arms",
        sa.Column("decoy", sa.String(64), primary_key=True),
        _float("alpha"),
        _float("beta"),
        sa.Column("pulls", sa.Integer, nullable=False),
        _float("successes"),
        sa.Column("selections", sa.Integer, nullable=False),
        _float("updated_at"),
    )
    op.create_table(
        "camouflage_bandit_rewards",
        sa.Column("session_id", sa.String(32), primary_key=True),
        sa.Column("decoy", sa.String(64), nullable=False),
        _float("reward"),
        sa.Column("source", sa.String(16), nullable=False),
        _float("at"),
    )
    op.create_table(
        "camouflage_assignments",
        sa.Column("source_ip", sa.String(64), primary_key=True),
        sa.Column("decoy", sa.String(64), nullable=False),
        sa.Column("session_id", sa.String(32), nullable=False),
        _float("created_at"),
    )
    op.create_table(
        "camouflage_honeytokens",
        sa.Column("token_id", sa.String(32), primary_key=True),
        sa.Column("session_id", sa.String(32), nullable=False),
        sa.Column("decoy", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("path", sa.String(512), nullable=False),
        _float("planted_at"),
        sa.Column("uses", sa.Integer, nullable=False),
        _float("last_used_at", nullable=True),
    )
    op.create_index("ix_camouflage_honeytokens_session", "camouflage_honeytokens", ["session_id"])
    op.create_table(
        "camouflage_generated_data_log",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        _float("at"),
        sa.Column("session_id", sa.String(32), nullable=False),
        sa.Column("decoy", sa.String(64), nullable=False),
        sa.Column("path", sa.String(512), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
    )
    op.create_index(
        "ix_camouflage_generated_data_log_session", "camouflage_generated_data_log", ["session_id"]
    )
    op.create_table(
        "camouflage_state",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    """Drop the camouflage tables."""
    op.drop_table("camouflage_state")
    op.drop_index("ix_camouflage_generated_data_log_session", "camouflage_generated_data_log")
    op.drop_table("camouflage_generated_data_log")
    op.drop_index("ix_camouflage_honeytokens_session", "camouflage_honeytokens")
    op.drop_table("camouflage_honeytokens")
    op.drop_table("camouflage_assignments")
    op.drop_table("camouflage_bandit_rewards")
    op.drop_table("camouflage_bandit_arms")
    op.drop_index("ix_camouflage_sessions_linked_to", "camouflage_sessions")
    op.drop_index("ix_camouflage_sessions_decoy", "camouflage_sessions")
    op.drop_index("ix_camouflage_sessions_last_seen", "camouflage_sessions")
    op.drop_table("camouflage_sessions")
    op.drop_index("ix_camouflage_events_ts", "camouflage_events")
    op.drop_index("ix_camouflage_events_session", "camouflage_events")
    op.drop_table("camouflage_events")
