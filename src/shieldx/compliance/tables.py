"""The compliance tables, defined once (the migration creates exactly these).

Times are integers (microseconds since the Unix epoch, suffix `_us`), as in the ledger.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# The loaded catalogue: a copy of the framework files as of the last assessment.
frameworks = sa.Table(
    "compliance_frameworks",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("version", sa.String(32), nullable=False),
    sa.Column("loaded_at_us", sa.BigInteger, nullable=False),
)

controls = sa.Table(
    "compliance_controls",
    metadata,
    sa.Column("framework", sa.String(64), primary_key=True),
    sa.Column("control_id", sa.String(64), primary_key=True),
    sa.Column("title", sa.String(300), nullable=False),
)

control_checks = sa.Table(
    "control_checks",
    metadata,
    sa.Column("framework", sa.String(64), primary_key=True),
    sa.Column("control_id", sa.String(64), primary_key=True),
    sa.Column("check_id", sa.String(64), primary_key=True),
    sa.Column("severity", sa.String(16), nullable=False),
)

# One row per assessment: its scores (the history the trend is drawn from).
reports = sa.Table(
    "compliance_reports",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("created_at_us", sa.BigInteger, nullable=False),
    sa.Column("requested_by", sa.String(64), nullable=False),
    sa.Column("overall", sa.Float, nullable=False),
    sa.Column("result", sa.Text, nullable=False),  # JSON: frameworks, controls, statuses
    sa.Index("ix_compliance_reports_created", "created_at_us"),
)

# Evidence is hash-chained: hash = SHA-256(prev_hash | sha256 | check_id | collected_at_us),
# so an edited, inserted or deleted row breaks every later link.
evidence = sa.Table(
    "compliance_evidence",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("report_id", sa.String(32), nullable=False),
    sa.Column("check_id", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("collected_at_us", sa.BigInteger, nullable=False),
    sa.Column("data", sa.Text, nullable=False),  # canonical JSON of what the check saw
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Index("ix_compliance_evidence_report", "report_id"),
)

remediation_plans = sa.Table(
    "remediation_plans",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("framework", sa.String(64), nullable=False),
    sa.Column("control_id", sa.String(64), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("recommendation", sa.Text, nullable=False),
    sa.Column("owner", sa.String(200)),
    sa.Column("due_at_us", sa.BigInteger, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # open, in_progress, done
    sa.Column("opened_by_report", sa.String(32), nullable=False),
    sa.Column("created_at_us", sa.BigInteger, nullable=False),
    sa.Column("updated_at_us", sa.BigInteger, nullable=False),
    sa.Index("ix_remediation_plans_control", "framework", "control_id", "state"),
)

alerts = sa.Table(
    "compliance_alerts",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    # One alert per condition (e.g. "finding:SOC2:CC6.1", "honeytoken:42"): raised once.
    sa.Column("dedupe_key", sa.String(200), nullable=False, unique=True),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("created_at_us", sa.BigInteger, nullable=False),
    # GDPR Art. 33: the notification clock starts at detection; None when none applies.
    sa.Column("deadline_at_us", sa.BigInteger),
    sa.Column("acknowledged_at_us", sa.BigInteger),
    sa.Column("acknowledged_by", sa.String(64)),
    sa.Column("escalated_at_us", sa.BigInteger),
    sa.Column("deliveries", sa.Text, nullable=False),  # JSON: channel -> outcome
)
