"""The credits tables, defined once (the migration creates exactly these).

Times are integers (microseconds since the Unix epoch, column suffix `_us`): they hash
canonically, sort, and cost nothing to parse on replay. Amounts are 64-bit integers.
"""

from __future__ import annotations

import sqlalchemy as sa

# Re-exported: the projections' names in projection_tracking.
from shieldx.credits.store.sql import HISTORY_PROJECTION as HISTORY_PROJECTION
from shieldx.credits.store.sql import PROJECTIONS as PROJECTIONS
from shieldx.credits.store.sql import USAGE_PROJECTION as USAGE_PROJECTION

metadata = sa.MetaData()

# INTEGER PRIMARY KEY on SQLite is the rowid itself (appends stay sequential and cheap).
Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Tenant = sa.String(128)
AccountId = sa.String(128)

event_store = sa.Table(
    "event_store",
    metadata,
    sa.Column("position", Position, primary_key=True, autoincrement=False),
    sa.Column("tenant", Tenant, nullable=False),
    sa.Column("account_id", AccountId, nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    # The position of the stream's previous event (NULL for its first): loading an account,
    # time travel and an account's history walk these links instead of a (tenant, account,
    # version) index, which cost a randomly placed B-tree page per event at every commit.
    sa.Column("prev", sa.BigInteger),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    # The account right after this event: what the read models need, covered by the chain.
    sa.Column("balance", sa.BigInteger, nullable=False),
    sa.Column("held", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.String(200), nullable=False),
    sa.Column("tx", sa.String(64)),
    sa.Column("data", sa.Text, nullable=False),  # JSON: ids, allocations, expiries; or ''
    sa.Column("at_us", sa.BigInteger, nullable=False),
    sa.Column("idempotency_key", sa.String(255)),
    sa.Column("hash", sa.LargeBinary(32), nullable=False),
)

chain_head = sa.Table(
    "credits_chain_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

aggregate_snapshots = sa.Table(
    "aggregate_snapshots",
    metadata,
    sa.Column("tenant", Tenant, primary_key=True),
    sa.Column("account_id", AccountId, primary_key=True),
    sa.Column("version", sa.BigInteger, primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("at_us", sa.BigInteger, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sqlite_with_rowid=False,
)

projection_tracking = sa.Table(
    "projection_tracking",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("updated_at_us", sa.BigInteger, nullable=False),
)

command_log = sa.Table(
    "command_log",
    metadata,
    sa.Column("tenant", Tenant, primary_key=True),
    sa.Column("idempotency_key", sa.String(255), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("op", sa.String(16), nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("response", sa.Text, nullable=False),
    sa.Column("created_at_us", sa.BigInteger, nullable=False),
    sa.Index("ix_command_log_created", "created_at_us"),
    sqlite_with_rowid=False,
)

balances = sa.Table(
    "credit_balances_read_model",
    metadata,
    sa.Column("tenant", Tenant, primary_key=True),
    sa.Column("account_id", AccountId, primary_key=True),
    sa.Column("balance", sa.BigInteger, nullable=False),
    sa.Column("held", sa.BigInteger, nullable=False),
    sa.Column("available", sa.BigInteger, nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("last_position", sa.BigInteger, nullable=False),
    sa.Column("updated_at_us", sa.BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

history = sa.Table(
    "credit_history",
    metadata,
    sa.Column("position", Position, primary_key=True, autoincrement=False),
    sa.Column("tenant", Tenant, nullable=False),
    sa.Column("account_id", AccountId, nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("balance_after", sa.BigInteger, nullable=False),
    sa.Column("available_after", sa.BigInteger, nullable=False),
    sa.Column("at_us", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.String(200), nullable=False),
    sa.Column("transaction_id", sa.String(64)),
    sa.Index("ix_credit_history_tenant", "tenant", "position"),
)

# Time first: the rows a projection step touches (the current hour) are contiguous, so a
# step dirties a few pages however many accounts it covers; reports per account use the index.
usage = sa.Table(
    "credit_usage",
    metadata,
    sa.Column("tenant", Tenant, primary_key=True),
    sa.Column("bucket_us", sa.BigInteger, primary_key=True),
    sa.Column("account_id", AccountId, primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("reason", sa.String(200), primary_key=True),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.Index("ix_credit_usage_account", "tenant", "account_id", "bucket_us"),
    sqlite_with_rowid=False,
)

holds = sa.Table(
    "credit_holds",
    metadata,
    sa.Column("hold_id", sa.String(64), primary_key=True),
    sa.Column("tenant", Tenant, nullable=False),
    sa.Column("account_id", AccountId, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.String(200), nullable=False),
    sa.Column("created_at_us", sa.BigInteger, nullable=False),
    sa.Column("expires_at_us", sa.BigInteger, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("resolved_at_us", sa.BigInteger),
    sa.Column("committed", sa.BigInteger),
    sa.Column("released", sa.BigInteger),
    sa.Column("expired", sa.BigInteger),
    sa.Index(
        "ix_credit_holds_due",
        "expires_at_us",
        sqlite_where=sa.text("state = 'active'"),
        postgresql_where=sa.text("state = 'active'"),
    ),
    sqlite_with_rowid=False,
)

grants = sa.Table(
    "credit_grants",
    metadata,
    sa.Column("grant_id", sa.String(64), primary_key=True),
    sa.Column("tenant", Tenant, nullable=False),
    sa.Column("account_id", AccountId, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("created_at_us", sa.BigInteger, nullable=False),
    sa.Column("expires_at_us", sa.BigInteger),
    sa.Column("expired_at_us", sa.BigInteger),
    sa.Column("expired_amount", sa.BigInteger),
    sa.Index(
        "ix_credit_grants_due",
        "expires_at_us",
        sqlite_where=sa.text("expired_at_us IS NULL AND expires_at_us IS NOT NULL"),
        postgresql_where=sa.text("expired_at_us IS NULL AND expires_at_us IS NOT NULL"),
    ),
    sqlite_with_rowid=False,
)

thresholds = sa.Table(
    "credit_thresholds",
    metadata,
    sa.Column("tenant", Tenant, primary_key=True),
    sa.Column("account_id", AccountId, primary_key=True),
    sa.Column("threshold", sa.BigInteger, nullable=False),
    sa.Column("webhook_url", sa.Text),
    sa.Column("webhook_secret", sa.Text),  # AES-256-GCM sealed by the keyring
    sa.Column("updated_at_us", sa.BigInteger, nullable=False),
)

alerts = sa.Table(
    "credit_alerts",
    metadata,
    sa.Column("alert_id", sa.String(40), primary_key=True),
    sa.Column("tenant", Tenant, nullable=False),
    sa.Column("account_id", AccountId, nullable=False),
    sa.Column("threshold", sa.BigInteger, nullable=False),
    sa.Column("available", sa.BigInteger, nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("at_us", sa.BigInteger, nullable=False),
    sa.Column("webhook_url", sa.Text),
    sa.Column("delivery", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at_us", sa.BigInteger),
    sa.Column("last_error", sa.Text),
    sa.Column("delivered_at_us", sa.BigInteger),
    sa.Index("ix_credit_alerts_account", "tenant", "account_id", "at_us"),
    sa.Index(
        "ix_credit_alerts_pending",
        "next_attempt_at_us",
        sqlite_where=sa.text("delivery = 'pending'"),
        postgresql_where=sa.text("delivery = 'pending'"),
    ),
)

payments = sa.Table(
    "credit_payments",
    metadata,
    sa.Column("transaction_id", sa.String(64), primary_key=True),
    sa.Column("tenant", Tenant, nullable=False),
    sa.Column("account_id", AccountId, nullable=False),
    sa.Column("provider", sa.String(64), nullable=False),
    sa.Column("reference", sa.String(200), nullable=False),
    sa.Column("card_last4", sa.String(4)),
    sa.Column("details", sa.Text, nullable=False),  # AES-256-GCM sealed by the keyring
    sa.Column("key_id", sa.String(32), nullable=False),
    sa.Column("created_at_us", sa.BigInteger, nullable=False),
)

# Sharding (shards/): the versioned shard map and the cross-shard transfers live in the main
# (coordinator) database; every shard database records the ring version it accepts writes
# under in credit_shard_identity.
shard_map = sa.Table(
    "credit_shard_map",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(32), nullable=False),
    sa.Column("url", sa.Text),  # NULL: a SQLite file under the data dir
    sa.Column("virtual_nodes", sa.Integer, nullable=False),
    sa.Column("created_at_us", sa.BigInteger, nullable=False),
)

shard_identity = sa.Table(
    "credit_shard_identity",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("ring_version", sa.Integer, nullable=False),
)

transfers = sa.Table(
    "credit_transfers",
    metadata,
    sa.Column("transfer_id", sa.String(64), primary_key=True),
    sa.Column("tenant", Tenant, nullable=False),
    sa.Column("idempotency_key", sa.String(255), nullable=False),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("from_account", AccountId, nullable=False),
    sa.Column("to_account", AccountId, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.String(200), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("hold_id", sa.String(64)),
    sa.Column("status", sa.Integer),  # the final answer, once done
    sa.Column("response", sa.Text),
    sa.Column("created_at_us", sa.BigInteger, nullable=False),
    sa.Column("updated_at_us", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("tenant", "idempotency_key", name="uq_credit_transfers_key"),
    sa.Index("ix_credit_transfers_state", "state"),
)
