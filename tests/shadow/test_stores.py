"""The shadow tables and stores on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from shieldx.platform.db import Database
from shieldx.shadow.experiments.stats import GaussianPrior, Metric
from shieldx.shadow.experiments.store import Experiment, ExperimentStore
from shieldx.shadow.experiments.tallies import ExperimentTally
from shieldx.shadow.flags.domain import Flag, Variant
from shieldx.shadow.flags.store import FlagExists, FlagStore
from shieldx.shadow.rollouts.domain import Policy, Status, Strategy, plan_stages
from shieldx.shadow.rollouts.gates import Gates
from shieldx.shadow.rollouts.store import (
    Deployment,
    DeploymentConflict,
    DeploymentStore,
    Transition,
)
from shieldx.shadow.rollouts.traffic_rules import TrafficRule
from shieldx.shadow.rules.domain import Action, Decision, ErrorPolicy, Rule
from shieldx.shadow.rules.records import Label
from shieldx.shadow.rules.store import RuleSetStore
from shieldx.shadow.tables import metadata
from shieldx.shadow.versions import fetch_versions

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
BLOCK = Decision(Action.BLOCK, "r1", ("r1",))
ALLOW = Decision(Action.ALLOW, None)


def test_the_migration_matches_the_table_definitions(database: Database) -> None:
    with database.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    ours = [d for d in diffs if any(f"'{name}'" in repr(d) for name in metadata.tables)]
    assert ours == []


def test_rule_set_versions_are_numbered_per_tenant_and_never_change(database: Database) -> None:
    store = RuleSetStore(database)
    v1 = [Rule("a", 'path == "/a"', Action.BLOCK, 5, "first")]
    v2 = [Rule("b", 'method == "PUT"', Action.CHALLENGE)]
    assert (
        store.insert_next(
            tenant="acme",
            name="waf",
            on_error=ErrorPolicy.FAIL_OPEN,
            rules=v1,
            created_by="k",
            now=T0,
        )
        == 1
    )
    assert (
        store.insert_next(
            tenant="acme",
            name="waf",
            on_error=ErrorPolicy.FAIL_CLOSED,
            rules=v2,
            created_by="k",
            now=T0,
        )
        == 2
    )
    assert (
        store.insert_next(
            tenant="globex",
            name="waf",
            on_error=ErrorPolicy.FAIL_OPEN,
            rules=v2,
            created_by="k",
            now=T0,
        )
        == 1
    )
    first = store.get("acme", "waf", 1)
    assert first is not None
    assert (first.rules, first.on_error, first.created_at) == (tuple(v1), ErrorPolicy.FAIL_OPEN, T0)
    latest = store.get("acme", "waf")
    assert latest is not None and latest.version == 2 and latest.on_error is ErrorPolicy.FAIL_CLOSED
    assert store.get("initech", "waf") is None
    assert [(s.name, s.latest_version, s.versions) for s in store.summaries("acme")] == [
        ("waf", 2, 2)
    ]


def _experiment(test_id: str = "abt_1") -> Experiment:
    return Experiment(
        id=test_id,
        tenant="acme",
        name="t",
        control=("waf", 1),
        candidate=("waf", 2),
        split=50.0,
        metric=Metric.DETECTION_RATE,
        prior=GaussianPrior(0.1, 0.5, True, "absolute"),
        min_samples=10,
        sticky_key="ip",
        status="running",
        created_at=T0,
        created_by="k",
    )


def test_experiment_counters_add_up_across_flushes(database: Database) -> None:
    store = ExperimentStore(database)
    store.create(_experiment())
    assert store.get("abt_1") == _experiment()

    def flush(ip: str, label: Label) -> None:
        tally = ExperimentTally()
        tally.observe(Variant.CONTROL, ALLOW, BLOCK, label, ip, client_bound=100)
        tally.observe(Variant.CANDIDATE, ALLOW, BLOCK, label, ip, client_bound=100)
        with database.write() as conn:
            store.add_counts(conn, {"abt_1": tally}, client_bound=100)

    flush("10.0.0.1", Label.MALICIOUS)
    flush("10.0.0.1", Label.BENIGN)  # a second process (or flush) counting the same client
    flush("10.0.0.2", Label.MALICIOUS)
    totals = store.totals("abt_1")
    assert (totals.control.n, totals.candidate.n) == (3, 3)
    assert (totals.candidate.true_positives, totals.candidate.false_positives) == (2, 1)
    assert (totals.control.false_negatives, totals.control.true_negatives) == (2, 1)
    assert totals.matrix == {("allow", "block"): 6}
    assert totals.new_blocks == {"r1": 6}
    assert totals.exact_clients == 2
    assert totals.sketch is not None and round(totals.sketch.estimate()) == 2
    assert store.finish("abt_1", status="stopped", winner=None, reason="x", now=T0)
    assert not store.finish("abt_1", status="decided", winner="control", reason="x", now=T0)
    assert store.running() == []


def _deployment(deployment_id: str = "dep_1") -> Deployment:
    plan = plan_stages(Strategy.CANARY, percentages=(10, 100), stage_duration_s=60)
    return Deployment(
        id=deployment_id,
        tenant="acme",
        strategy=Strategy.CANARY,
        status=Status.RUNNING,
        target=("waf", 2),
        previous=("waf", 1),
        plan=plan,
        policy=Policy(Gates(max_error_rate=0.1, min_samples_per_stage=5)),
        sticky_key="ip",
        stage_index=0,
        stage_seq=1,
        stage_started_at=T0,
        revision=1,
        created_at=T0,
        updated_at=T0,
        created_by="k",
    )


def test_deployment_transitions_are_optimistic_and_one_per_tenant(database: Database) -> None:
    store = DeploymentStore(database)
    before = fetch_versions(database).routing
    rule = TrafficRule(
        "acme", ("waf", 1), "ip", ("waf", 2), 10.0, deployment_id="dep_1", stage_seq=1
    )
    store.create(_deployment(), rule, completed=False)
    assert store.traffic_rule("acme") == rule
    assert fetch_versions(database).routing == before + 1
    with pytest.raises(DeploymentConflict):
        store.create(_deployment("dep_2"), rule, completed=False)
    current = store.get("dep_1")
    assert current is not None and current.plan == _deployment().plan
    change = Transition(values={"status": "paused"}, close_stage=("paused", "by hand", None), at=T0)
    assert store.transition(current, change)
    assert not store.transition(current, change)  # stale revision: someone moved it first
    moved = store.get("dep_1")
    assert moved is not None and moved.status is Status.PAUSED and moved.revision == 2
    assert [s.verdict for s in store.stages("dep_1")] == ["paused"]
    assert store.status_counts() == {("canary", "paused"): 1}


def test_flags_bump_the_version_other_processes_poll(database: Database) -> None:
    store = FlagStore(database)
    flag = Flag.compile("new-ui", {"on": True, "off": False}, "off")
    before = fetch_versions(database).flags
    store.create("acme", flag, T0)
    with pytest.raises(FlagExists):
        store.create("acme", flag, T0)
    store.create("globex", flag, T0)
    killed = store.replace(
        "acme", Flag.compile("new-ui", {"on": True, "off": False}, "off", enabled=False), T0
    )
    assert killed is not None and not killed.enabled and killed.revision == 2
    assert store.replace("initech", flag, T0) is None
    assert store.delete("globex", "new-ui") and not store.delete("globex", "new-ui")
    versions, rows = store.snapshot()
    assert versions.flags == before + 4
    assert [(r.tenant, r.key, r.enabled) for r in rows] == [("acme", "new-ui", False)]
