"""Credits: event store, snapshots, projections, command log, holds, grants, alerts.

Revision ID: credits_0001
Revises: platform_0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "credits_0001"
down_revision: str | Sequence[str] | None = "platform_0001"
branch_labels: str | Sequence[str] | None = ("credits",)
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64  # hex of the 32 zero bytes the chain starts from
Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
PROJECTIONS = ("credit_history", "credit_usage")  # tracked asynchronous projections


def upgrade() -> None:
    """Create the ledger tables; the chain head starts at the genesis hash."""
    op.create_table(
        "event_store",
        sa.Column("position", Position, primary_key=True, autoincrement=False),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("prev", sa.BigInteger, nullable=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("balance", sa.BigInteger, nullable=False),
        sa.Column("held", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("tx", sa.String(64), nullable=True),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
    )
    head = op.create_table(
        "credits_chain_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "position": 0, "hash": GENESIS}])
    op.create_table(
        "aggregate_snapshots",
        sa.Column("tenant", sa.String(128), primary_key=True),
        sa.Column("account_id", sa.String(128), primary_key=True),
        sa.Column("version", sa.BigInteger, primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sqlite_with_rowid=False,
    )
    tracking = op.create_table(
        "projection_tracking",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("updated_at_us", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(tracking, [{"name": n, "position": 0, "updated_at_us": 0} for n in PROJECTIONS])
    op.create_table(
        "command_log",
        sa.Column("tenant", sa.String(128), primary_key=True),
        sa.Column("idempotency_key", sa.String(255), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("op", sa.String(16), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("created_at_us", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_command_log_created", "command_log", ["created_at_us"])
    op.create_table(
        "credit_balances_read_model",
        sa.Column("tenant", sa.String(128), primary_key=True),
        sa.Column("account_id", sa.String(128), primary_key=True),
        sa.Column("balance", sa.BigInteger, nullable=False),
        sa.Column("held", sa.BigInteger, nullable=False),
        sa.Column("available", sa.BigInteger, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("last_position", sa.BigInteger, nullable=False),
        sa.Column("updated_at_us", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "credit_history",
        sa.Column("position", Position, primary_key=True, autoincrement=False),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("balance_after", sa.BigInteger, nullable=False),
        sa.Column("available_after", sa.BigInteger, nullable=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("transaction_id", sa.String(64), nullable=True),
    )
    op.create_index("ix_credit_history_tenant", "credit_history", ["tenant", "position"])
    op.create_table(
        "credit_usage",
        sa.Column("tenant", sa.String(128), primary_key=True),
        sa.Column("bucket_us", sa.BigInteger, primary_key=True),
        sa.Column("account_id", sa.String(128), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("reason", sa.String(200), primary_key=True),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_credit_usage_account", "credit_usage", ["tenant", "account_id", "bucket_us"]
    )
    _ledger_state_tables()


def _ledger_state_tables() -> None:
    op.create_table(
        "credit_holds",
        sa.Column("hold_id", sa.String(64), primary_key=True),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("created_at_us", sa.BigInteger, nullable=False),
        sa.Column("expires_at_us", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("resolved_at_us", sa.BigInteger, nullable=True),
        sa.Column("committed", sa.BigInteger, nullable=True),
        sa.Column("released", sa.BigInteger, nullable=True),
        sa.Column("expired", sa.BigInteger, nullable=True),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_credit_holds_due",
        "credit_holds",
        ["expires_at_us"],
        sqlite_where=sa.text("state = 'active'"),
        postgresql_where=sa.text("state = 'active'"),
    )
    op.create_table(
        "credit_grants",
        sa.Column("grant_id", sa.String(64), primary_key=True),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("created_at_us", sa.BigInteger, nullable=False),
        sa.Column("expires_at_us", sa.BigInteger, nullable=True),
        sa.Column("expired_at_us", sa.BigInteger, nullable=True),
        sa.Column("expired_amount", sa.BigInteger, nullable=True),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_credit_grants_due",
        "credit_grants",
        ["expires_at_us"],
        sqlite_where=sa.text("expired_at_us IS NULL AND expires_at_us IS NOT NULL"),
        postgresql_where=sa.text("expired_at_us IS NULL AND expires_at_us IS NOT NULL"),
    )
    op.create_table(
        "credit_thresholds",
        sa.Column("tenant", sa.String(128), primary_key=True),
        sa.Column("account_id", sa.String(128), primary_key=True),
        sa.Column("threshold", sa.BigInteger, nullable=False),
        sa.Column("webhook_url", sa.Text, nullable=True),
        sa.Column("webhook_secret", sa.Text, nullable=True),
        sa.Column("updated_at_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "credit_alerts",
        sa.Column("alert_id", sa.String(40), primary_key=True),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("threshold", sa.BigInteger, nullable=False),
        sa.Column("available", sa.BigInteger, nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("webhook_url", sa.Text, nullable=True),
        sa.Column("delivery", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at_us", sa.BigInteger, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("delivered_at_us", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_credit_alerts_account", "credit_alerts", ["tenant", "account_id", "at_us"])
    op.create_index(
        "ix_credit_alerts_pending",
        "credit_alerts",
        ["next_attempt_at_us"],
        sqlite_where=sa.text("delivery = 'pending'"),
        postgresql_where=sa.text("delivery = 'pending'"),
    )
    op.create_table(
        "credit_payments",
        sa.Column("transaction_id", sa.String(64), primary_key=True),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("reference", sa.String(200), nullable=False),
        sa.Column("card_last4", sa.String(4), nullable=True),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("created_at_us", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    """Drop every credits table."""
    op.drop_table("credit_payments")
    op.drop_index("ix_credit_alerts_pending", table_name="credit_alerts")
    op.drop_index("ix_credit_alerts_account", table_name="credit_alerts")
    op.drop_table("credit_alerts")
    op.drop_table("credit_thresholds")
    op.drop_index("ix_credit_grants_due", table_name="credit_grants")
    op.drop_table("credit_grants")
    op.drop_index("ix_credit_holds_due", table_name="credit_holds")
    op.drop_table("credit_holds")
    op.drop_index("ix_credit_usage_account", table_name="credit_usage")
    op.drop_table("credit_usage")
    op.drop_index("ix_credit_history_tenant", table_name="credit_history")
    op.drop_table("credit_history")
    op.drop_table("credit_balances_read_model")
    op.drop_index("ix_command_log_created", table_name="command_log")
    op.drop_table("command_log")
    op.drop_table("projection_tracking")
    op.drop_table("aggregate_snapshots")
    op.drop_table("credits_chain_head")
    op.drop_table("event_store")
