"""The camouflage tables (SQLAlchemy Core), kept in sync with migrations/versions/camouflage.

Times are epoch seconds (floats): events are written thousands per second, and a float needs
no conversion on either backend. JSON documents are stored as text.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()
# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid alias), not a BIGINT.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

events = sa.Table(
    "camouflage_events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("event", sa.String(48), nullable=False),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("session_id", sa.String(32)),
    sa.Column("decoy", sa.String(64)),
    sa.Column("source_ip", sa.String(64)),
    sa.Column("method", sa.String(32)),
    sa.Column("path", sa.Text),
    sa.Column("status", sa.Integer),
    sa.Column("scanner", sa.String(32)),
    sa.Column("attack_types", sa.String(200)),
    sa.Column("document", sa.Text, nullable=False),
    sa.Index("ix_camouflage_events_session", "session_id", "id"),
    sa.Index("ix_camouflage_events_ts", "ts"),
)

sessions = sa.Table(
    "camouflage_sessions",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("decoy", sa.String(64), nullable=False),
    sa.Column("template", sa.String(64), nullable=False),
    sa.Column("source_ip", sa.String(64), nullable=False),
    sa.Column("source_port", sa.Integer, nullable=False),
    sa.Column("user_agent", sa.String(512), nullable=False),
    sa.Column("via", sa.String(16), nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("last_seen", sa.Float, nullable=False),
    sa.Column("ended_at", sa.Float, nullable=False),
    sa.Column("close_reason", sa.String(16), nullable=False),
    sa.Column("requests", sa.Integer, nullable=False),
    sa.Column("distinct_paths", sa.Integer, nullable=False),
    sa.Column("maze_depth", sa.Integer, nullable=False),
    sa.Column("honeytokens_taken", sa.Integer, nullable=False),
    sa.Column("honeytokens_used", sa.Integer, nullable=False),
    sa.Column("scanner", sa.String(32), nullable=False),
    sa.Column("tool", sa.String(64), nullable=False),
    sa.Column("attack_types", sa.Text, nullable=False),
    # ",sql_injection,xss_probe," so that one LIKE finds a type.
    sa.Column("attack_tags", sa.String(300), nullable=False),
    sa.Column("engaged", sa.Boolean, nullable=False),
    sa.Column("linked_to", sa.String(32)),
    sa.Index("ix_camouflage_sessions_last_seen", "last_seen"),
    sa.Index("ix_camouflage_sessions_decoy", "decoy", "last_seen"),
    sa.Index("ix_camouflage_sessions_linked_to", "linked_to"),
)

bandit_arms = sa.Table(
    "camouflage_bandit_arms",
    metadata,
    sa.Column("decoy", sa.String(64), primary_key=True),
    sa.Column("alpha", sa.Float, nullable=False),
    sa.Column("beta", sa.Float, nullable=False),
    sa.Column("pulls", sa.Integer, nullable=False),
    sa.Column("successes", sa.Float, nullable=False),
    sa.Column("selections", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

bandit_rewards = sa.Table(
    "camouflage_bandit_rewards",
    metadata,
    sa.Column("session_id", sa.String(32), primary_key=True),
    sa.Column("decoy", sa.String(64), nullable=False),
    sa.Column("reward", sa.Float, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
)

assignments = sa.Table(
    "camouflage_assignments",
    metadata,
    sa.Column("source_ip", sa.String(64), primary_key=True),
    sa.Column("decoy", sa.String(64), nullable=False),
    sa.Column("session_id", sa.String(32), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

honeytoken_links = sa.Table(
    "camouflage_honeytokens",
    metadata,
    sa.Column("token_id", sa.String(32), primary_key=True),
    sa.Column("session_id", sa.String(32), nullable=False),
    sa.Column("decoy", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("path", sa.String(512), nullable=False),
    sa.Column("planted_at", sa.Float, nullable=False),
    sa.Column("uses", sa.Integer, nullable=False),
    sa.Column("last_used_at", sa.Float),
    sa.Index("ix_camouflage_honeytokens_session", "session_id"),
)

generated_data_log = sa.Table(
    "camouflage_generated_data_log",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("session_id", sa.String(32), nullable=False),
    sa.Column("decoy", sa.String(64), nullable=False),
    sa.Column("path", sa.String(512), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("seed", sa.BigInteger, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Index("ix_camouflage_generated_data_log_session", "session_id"),
)

state = sa.Table(
    "camouflage_state",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
