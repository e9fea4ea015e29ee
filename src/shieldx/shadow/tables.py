"""The shadow service's tables (SQLAlchemy Core), kept in step with its Alembic branch.

Every row that belongs to someone carries its tenant. JSON payloads (rules, gates, flag
definitions, gate figures) are stored as text written by orjson, the same on both backends.
`shadow_state` holds two counters that every change other processes must notice bumps in
the same transaction: a process polls one primary-key row and reloads only when it moved.
"""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa

STATE_ROW: Final = 1
TENANT = 128

metadata = sa.MetaData()


def _counters(*names: str) -> list[sa.Column[int]]:
    return [sa.Column(name, sa.BigInteger, nullable=False, server_default="0") for name in names]


def _at(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


shadow_state = sa.Table(
    "shadow_state",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("routing_version", sa.BigInteger, nullable=False),
    sa.Column("flags_version", sa.BigInteger, nullable=False),
)

rulesets = sa.Table(
    "shadow_rulesets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(TENANT), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("on_error", sa.String(16), nullable=False),
    sa.Column("rules", sa.Text, nullable=False),
    sa.Column("rule_count", sa.Integer, nullable=False),
    _at("created_at"),
    sa.Column("created_by", sa.String(32), nullable=False),
    sa.UniqueConstraint("tenant", "name", "version", name="uq_shadow_rulesets_version"),
)

ab_tests = sa.Table(
    "ab_tests",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("tenant", sa.String(TENANT), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("metric", sa.String(32), nullable=False),
    sa.Column("split", sa.Float, nullable=False),
    sa.Column("prior", sa.Text, nullable=False),
    sa.Column("min_samples", sa.Integer, nullable=False),
    sa.Column("sticky_key", sa.String(300), nullable=False),
    # Hash seed of the sticky assignment; NULL: the test id (shadow_0002).
    sa.Column("seed", sa.String(64)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("winner", sa.String(16)),
    sa.Column("reason", sa.Text),
    _at("created_at"),
    _at("decided_at", nullable=True),
    _at("stopped_at", nullable=True),
    sa.Column("created_by", sa.String(32), nullable=False),
    sa.CheckConstraint("status IN ('running', 'decided', 'stopped')", name="ck_ab_tests_status"),
    sa.Index("ix_ab_tests_tenant_status", "tenant", "status"),
)

ab_test_variants = sa.Table(
    "ab_test_variants",
    metadata,
    sa.Column("test_id", sa.String(32), sa.ForeignKey("ab_tests.id"), primary_key=True),
    sa.Column("variant", sa.String(16), primary_key=True),
    sa.Column("ruleset_name", sa.String(64), nullable=False),
    sa.Column("ruleset_version", sa.Integer, nullable=False),
    sa.Column("traffic_percentage", sa.Float, nullable=False),
    *_counters(
        "n",
        "blocks",
        "true_positives",
        "false_positives",
        "true_negatives",
        "false_negatives",
        "errors",
    ),
)

# The verdict diff, aggregated: kind 'matrix' (key "control>candidate" actions),
# 'new_block' (key: the candidate rule that newly blocks), 'new_allow' (the control rule).
ab_test_results = sa.Table(
    "ab_test_results",
    metadata,
    sa.Column("test_id", sa.String(32), sa.ForeignKey("ab_tests.id"), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("key", sa.String(160), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
)

# Distinct clients the candidate would newly block: exact up to a bound, then the sketch.
ab_test_blast_clients = sa.Table(
    "ab_test_blast_clients",
    metadata,
    sa.Column("test_id", sa.String(32), sa.ForeignKey("ab_tests.id"), primary_key=True),
    sa.Column("client", sa.String(64), primary_key=True),
)
ab_test_client_sketches = sa.Table(
    "ab_test_client_sketches",
    metadata,
    sa.Column("test_id", sa.String(32), sa.ForeignKey("ab_tests.id"), primary_key=True),
    sa.Column("registers", sa.LargeBinary, nullable=False),
)

deployments = sa.Table(
    "deployments",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("tenant", sa.String(TENANT), nullable=False),
    sa.Column("strategy", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("target_name", sa.String(64), nullable=False),
    sa.Column("target_version", sa.Integer, nullable=False),
    sa.Column("previous_name", sa.String(64)),
    sa.Column("previous_version", sa.Integer),
    sa.Column("test_id", sa.String(32)),
    sa.Column("plan", sa.Text, nullable=False),
    sa.Column("policy", sa.Text, nullable=False),
    sa.Column("sticky_key", sa.String(300), nullable=False),
    sa.Column("stage_index", sa.Integer, nullable=False),
    sa.Column("stage_seq", sa.Integer, nullable=False),
    _at("stage_started_at"),
    # Optimistic concurrency: every transition checks and bumps it, so two controllers
    # (two processes) can never both move the same deployment.
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("reason", sa.Text),
    _at("created_at"),
    _at("updated_at"),
    _at("finished_at", nullable=True),
    sa.Column("created_by", sa.String(32), nullable=False),
    sa.CheckConstraint(
        "status IN ('running', 'paused', 'completed', 'rolled_back', 'aborted')",
        name="ck_deployments_status",
    ),
    sa.Index("ix_deployments_tenant_status", "tenant", "status"),
)

deployment_stages = sa.Table(
    "deployment_stages",
    metadata,
    sa.Column("deployment_id", sa.String(32), sa.ForeignKey("deployments.id"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("stage_index", sa.Integer, nullable=False),
    sa.Column("phase", sa.String(16), nullable=False),
    sa.Column("percentage", sa.Float, nullable=False),
    _at("started_at"),
    _at("ended_at", nullable=True),
    sa.Column("verdict", sa.String(16)),
    sa.Column("reason", sa.Text),
    sa.Column("checks", sa.Text),
    *_counters("requests", "blocks", "baseline_blocks", "errors", "benign", "false_positives"),
)

# The enforced split, one row per tenant: stable version for everyone, the candidate for
# `candidate_percentage` % of sticky units (or for the listed gateways, when rolling).
traffic_rules = sa.Table(
    "traffic_rules",
    metadata,
    sa.Column("tenant", sa.String(TENANT), primary_key=True),
    sa.Column("stable_name", sa.String(64)),
    sa.Column("stable_version", sa.Integer),
    sa.Column("candidate_name", sa.String(64)),
    sa.Column("candidate_version", sa.Integer),
    sa.Column("candidate_percentage", sa.Float, nullable=False),
    sa.Column("candidate_gateways", sa.Text),
    sa.Column("deployment_id", sa.String(32)),
    sa.Column("stage_seq", sa.Integer),
    sa.Column("phase", sa.String(16)),
    sa.Column("sticky_key", sa.String(300), nullable=False),
    _at("updated_at"),
)

rollback_history = sa.Table(
    "rollback_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("deployment_id", sa.String(32), sa.ForeignKey("deployments.id"), nullable=False),
    sa.Column("tenant", sa.String(TENANT), nullable=False),
    sa.Column("from_name", sa.String(64), nullable=False),
    sa.Column("from_version", sa.Integer, nullable=False),
    sa.Column("to_name", sa.String(64)),
    sa.Column("to_version", sa.Integer),
    sa.Column("stage_index", sa.Integer, nullable=False),
    sa.Column("trigger", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    _at("rolled_back_at"),
    sa.Index("ix_rollback_history_deployment", "deployment_id"),
)

deployment_gateways = sa.Table(
    "deployment_gateways",
    metadata,
    sa.Column("tenant", sa.String(TENANT), primary_key=True),
    sa.Column("gateway_id", sa.String(128), primary_key=True),
    sa.Column("description", sa.String(500), nullable=False),
    _at("registered_at"),
)

feature_flags = sa.Table(
    "feature_flags",
    metadata,
    sa.Column("tenant", sa.String(TENANT), primary_key=True),
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("definition", sa.Text, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    _at("created_at"),
    _at("updated_at"),
)

# Which version each environment of a tenant runs and its share of traffic, rewritten with
# the split (traffic_rules) in the same transaction: `stable` alone when settled; `stable`
# and `canary` during a canary or rolling deployment; `blue` (the old version, draining)
# and `green` (the new one) during a blue-green deployment.
deployment_environments = sa.Table(
    "deployment_environments",
    metadata,
    sa.Column("tenant", sa.String(TENANT), primary_key=True),
    sa.Column("environment", sa.String(16), primary_key=True),
    sa.Column("ruleset_name", sa.String(64), nullable=False),
    sa.Column("ruleset_version", sa.Integer, nullable=False),
    sa.Column("percentage", sa.Float, nullable=False),
    sa.Column("deployment_id", sa.String(32)),
    _at("updated_at"),
    sa.CheckConstraint(
        "environment IN ('blue', 'green', 'canary', 'stable')",
        name="ck_deployment_environments_environment",
    ),
)

# The gateways as instances: their last heartbeat with what they measured (decision error
# rate and p95 latency at the gateway); the instance-health and latency gates read it.
deployment_instances = sa.Table(
    "deployment_instances",
    metadata,
    sa.Column("tenant", sa.String(TENANT), primary_key=True),
    sa.Column("gateway_id", sa.String(128), primary_key=True),
    _at("last_heartbeat_at"),
    sa.Column("requests", sa.BigInteger, nullable=False),
    sa.Column("error_rate", sa.Float, nullable=False),
    sa.Column("latency_p95_ms", sa.Float, nullable=False),
)
