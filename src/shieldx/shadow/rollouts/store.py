"""Deployments, their stage history, the enforced split (traffic_rules) and rollback history.

Every transition is one transaction that checks and bumps the deployment's revision, writes
the stage rows, the tenant's traffic rule and (on rollback) a rollback_history row, and
bumps the routing version; a transition racing another (two controllers) changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from shieldx.platform.db import Database
from shieldx.shadow.experiments.tallies import StageTally
from shieldx.shadow.rollouts.domain import Phase, Policy, Stage, Status, Strategy
from shieldx.shadow.rollouts.traffic_rules import (
    RulesetRef,
    TrafficRule,
    read_rules,
    ruleset_ref,
    write_rule,
)
from shieldx.shadow.tables import (
    deployment_environments,
    deployment_stages,
    deployments,
    rollback_history,
)
from shieldx.shadow.timeutil import iso, maybe_utc, utc
from shieldx.shadow.versions import bump

ACTIVE = (Status.RUNNING.value, Status.PAUSED.value)


class DeploymentConflict(Exception):
    """The tenant already has a running or paused deployment."""


@dataclass(frozen=True, slots=True)
class Deployment:
    """A deployment's definition and progress."""

    id: str
    tenant: str
    strategy: Strategy
    status: Status
    target: RulesetRef
    previous: RulesetRef | None
    plan: tuple[Stage, ...]
    policy: Policy
    sticky_key: str
    stage_index: int
    stage_seq: int
    stage_started_at: datetime
    revision: int
    created_at: datetime
    updated_at: datetime
    created_by: str
    test_id: str | None = None
    reason: str | None = None
    finished_at: datetime | None = None

    @property
    def stage(self) -> Stage:
        """The current stage."""
        return self.plan[self.stage_index]

    @property
    def last(self) -> bool:
        """True on the plan's last stage."""
        return self.stage_index == len(self.plan) - 1


@dataclass(frozen=True, slots=True)
class StageRecord:
    """One stage attempt, with its counts and, once ended, its verdict and gate figures."""

    seq: int
    stage_index: int
    phase: Phase
    percentage: float
    started_at: datetime
    counts: StageTally
    ended_at: datetime | None = None
    verdict: str | None = None
    reason: str | None = None
    checks: list[dict[str, Any]] | None = None


@dataclass(frozen=True, slots=True)
class Rollback:
    """A recorded switch back to the previous version."""

    deployment_id: str
    tenant: str
    from_version: RulesetRef
    to_version: RulesetRef | None
    stage_index: int
    trigger: str
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Transition:
    """Everything one controller or operator move writes, atomically."""

    values: dict[str, Any]
    close_stage: tuple[str, str, list[dict[str, Any]] | None] | None = None
    open_stage: Stage | None = None
    rule: TrafficRule | None = None
    rollback: Rollback | None = None
    at: datetime | None = None


class DeploymentStore:
    """Blocking access to deployments; callers run it in worker threads."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def environments(self, tenant: str) -> list[dict[str, Any]]:
        """The tenant's environments (deployment_environments), the old version first."""
        e = deployment_environments
        order = {name: n for n, name in enumerate(("stable", "canary", "blue", "green"))}
        with self._db.read() as conn:
            rows = conn.execute(sa.select(e).where(e.c.tenant == tenant)).all()
        found = [
            {
                "environment": m["environment"],
                "ruleset": f"{m['ruleset_name']}@{m['ruleset_version']}",
                "percentage": float(m["percentage"]),
                "deployment_id": m["deployment_id"],
                "updated_at": iso(utc(m["updated_at"])),
            }
            for m in (row._mapping for row in rows)
        ]
        return sorted(found, key=lambda doc: order[str(doc["environment"])])

    def create(self, deployment: Deployment, rule: TrafficRule, *, completed: bool) -> None:
        """Store a new deployment with its first stage and the tenant's new traffic rule."""
        d = deployment
        with self._db.write() as conn:
            # First: the version row's lock serialises concurrent creations on PostgreSQL.
            bump(conn, "routing_version")
            active = conn.execute(
                sa.select(deployments.c.id).where(
                    deployments.c.tenant == d.tenant, deployments.c.status.in_(ACTIVE)
                )
            ).first()
            if active is not None:
                raise DeploymentConflict(active[0])
            conn.execute(deployments.insert().values(**_deployment_row(d)))
            conn.execute(
                deployment_stages.insert().values(
                    deployment_id=d.id,
                    seq=d.stage_seq,
                    stage_index=d.stage_index,
                    phase=d.stage.phase.value,
                    percentage=d.stage.percentage,
                    started_at=d.stage_started_at,
                    ended_at=d.stage_started_at if completed else None,
                    verdict="skipped" if completed else None,
                    reason="immediate: no gates" if completed else None,
                )
            )
            write_rule(conn, rule, d.created_at)

    def transition(self, deployment: Deployment, change: Transition) -> bool:
        """Apply CHANGE if DEPLOYMENT is still at its revision; False when someone moved it."""
        d, at = deployment, change.at or utc(deployment.updated_at)
        with self._db.write() as conn:
            moved = conn.execute(
                deployments.update()
                .where(deployments.c.id == d.id, deployments.c.revision == d.revision)
                .values(revision=d.revision + 1, updated_at=at, **change.values)
            ).rowcount
            if not moved:
                return False
            if change.close_stage is not None:
                verdict, reason, checks = change.close_stage
                conn.execute(
                    deployment_stages.update()
                    .where(
                        deployment_stages.c.deployment_id == d.id,
                        deployment_stages.c.seq == d.stage_seq,
                    )
                    .values(
                        ended_at=at,
                        verdict=verdict,
                        reason=reason,
                        checks=None if checks is None else orjson.dumps(checks).decode(),
                    )
                )
            if change.open_stage is not None:
                stage = change.open_stage
                conn.execute(
                    deployment_stages.insert().values(
                        deployment_id=d.id,
                        seq=change.values["stage_seq"],
                        stage_index=change.values.get("stage_index", d.stage_index),
                        phase=stage.phase.value,
                        percentage=stage.percentage,
                        started_at=at,
                    )
                )
            if change.rule is not None:
                write_rule(conn, change.rule, at)
            if change.rollback is not None:
                conn.execute(rollback_history.insert().values(**_rollback_row(change.rollback)))
            bump(conn, "routing_version")
            return True

    def get(self, deployment_id: str) -> Deployment | None:
        """One deployment, or None."""
        found = self._select(deployments.c.id == deployment_id)
        return found[0] if found else None

    def for_tenant(self, tenant: str) -> list[Deployment]:
        """A tenant's deployments, newest first."""
        return self._select(deployments.c.tenant == tenant)

    def running(self) -> list[Deployment]:
        """Every running deployment (paused ones wait for an operator)."""
        return self._select(deployments.c.status == Status.RUNNING.value)

    def active(self, tenant: str) -> Deployment | None:
        """The tenant's running or paused deployment, if any."""
        found = self._select(
            sa.and_(deployments.c.tenant == tenant, deployments.c.status.in_(ACTIVE))
        )
        return found[0] if found else None

    def _select(self, where: sa.ColumnElement[bool]) -> list[Deployment]:
        query = sa.select(deployments).where(where).order_by(deployments.c.created_at.desc())
        with self._db.read() as conn:
            return [_deployment(row._mapping) for row in conn.execute(query)]

    def stages(self, deployment_id: str) -> list[StageRecord]:
        """Every stage attempt of a deployment, in order."""
        query = (
            sa.select(deployment_stages)
            .where(deployment_stages.c.deployment_id == deployment_id)
            .order_by(deployment_stages.c.seq)
        )
        with self._db.read() as conn:
            return [_stage(row._mapping) for row in conn.execute(query)]

    def stage_counts(self, deployment_id: str, seq: int) -> StageTally:
        """The persisted counts of one stage attempt."""
        names = tuple(StageTally().as_dict())
        query = sa.select(*(deployment_stages.c[n] for n in names)).where(
            deployment_stages.c.deployment_id == deployment_id, deployment_stages.c.seq == seq
        )
        with self._db.read() as conn:
            row = conn.execute(query).first()
        return StageTally() if row is None else StageTally(*(int(v) for v in row))

    def rollbacks(self, deployment_id: str) -> list[Rollback]:
        """The rollbacks of a deployment (normally none or one)."""
        t = rollback_history
        query = sa.select(t).where(t.c.deployment_id == deployment_id).order_by(t.c.id)
        with self._db.read() as conn:
            return [_rollback(row._mapping) for row in conn.execute(query)]

    def status_counts(self) -> dict[tuple[str, str], int]:
        """How many deployments there are per (strategy, status)."""
        c = deployments.c
        query = sa.select(c.strategy, c.status, sa.func.count()).group_by(c.strategy, c.status)
        with self._db.read() as conn:
            return {(s, st): int(n) for s, st, n in conn.execute(query)}

    def traffic_rule(self, tenant: str) -> TrafficRule | None:
        """The tenant's enforced split, if anything was ever deployed."""
        with self._db.read() as conn:
            rules = read_rules(conn, tenant)
        return rules[0] if rules else None


def add_stage_counts(conn: sa.Connection, stages: dict[tuple[str, int], StageTally]) -> None:
    """Add pending stage tallies inside the flush transaction."""
    c = deployment_stages.c
    for (deployment_id, seq), tally in stages.items():
        conn.execute(
            deployment_stages.update()
            .where(c.deployment_id == deployment_id, c.seq == seq)
            .values({c[name]: c[name] + value for name, value in tally.as_dict().items()})
        )


def _deployment_row(d: Deployment) -> dict[str, Any]:
    return {
        "id": d.id,
        "tenant": d.tenant,
        "strategy": d.strategy.value,
        "status": d.status.value,
        "target_name": d.target[0],
        "target_version": d.target[1],
        "previous_name": d.previous[0] if d.previous else None,
        "previous_version": d.previous[1] if d.previous else None,
        "test_id": d.test_id,
        "plan": orjson.dumps([s.as_dict() for s in d.plan]).decode(),
        "policy": orjson.dumps(d.policy.as_dict()).decode(),
        "sticky_key": d.sticky_key,
        "stage_index": d.stage_index,
        "stage_seq": d.stage_seq,
        "stage_started_at": d.stage_started_at,
        "revision": d.revision,
        "reason": d.reason,
        "created_at": d.created_at,
        "updated_at": d.updated_at,
        "finished_at": d.finished_at,
        "created_by": d.created_by,
    }


def _deployment(m: sa.RowMapping) -> Deployment:
    target = ruleset_ref(m["target_name"], m["target_version"])
    assert target is not None
    return Deployment(
        id=m["id"],
        tenant=m["tenant"],
        strategy=Strategy(m["strategy"]),
        status=Status(m["status"]),
        target=target,
        previous=ruleset_ref(m["previous_name"], m["previous_version"]),
        plan=tuple(Stage.from_dict(s) for s in orjson.loads(m["plan"])),
        policy=Policy.from_dict(orjson.loads(m["policy"])),
        sticky_key=m["sticky_key"],
        stage_index=int(m["stage_index"]),
        stage_seq=int(m["stage_seq"]),
        stage_started_at=utc(m["stage_started_at"]),
        revision=int(m["revision"]),
        created_at=utc(m["created_at"]),
        updated_at=utc(m["updated_at"]),
        created_by=m["created_by"],
        test_id=m["test_id"],
        reason=m["reason"],
        finished_at=maybe_utc(m["finished_at"]),
    )


def _stage(m: sa.RowMapping) -> StageRecord:
    names: Sequence[str] = tuple(StageTally().as_dict())
    return StageRecord(
        seq=int(m["seq"]),
        stage_index=int(m["stage_index"]),
        phase=Phase(m["phase"]),
        percentage=float(m["percentage"]),
        started_at=utc(m["started_at"]),
        counts=StageTally(*(int(m[n]) for n in names)),
        ended_at=maybe_utc(m["ended_at"]),
        verdict=m["verdict"],
        reason=m["reason"],
        checks=None if m["checks"] is None else orjson.loads(m["checks"]),
    )


def _rollback_row(r: Rollback) -> dict[str, Any]:
    return {
        "deployment_id": r.deployment_id,
        "tenant": r.tenant,
        "from_name": r.from_version[0],
        "from_version": r.from_version[1],
        "to_name": r.to_version[0] if r.to_version else None,
        "to_version": r.to_version[1] if r.to_version else None,
        "stage_index": r.stage_index,
        "trigger": r.trigger,
        "reason": r.reason,
        "rolled_back_at": r.at,
    }


def _rollback(m: sa.RowMapping) -> Rollback:
    source = ruleset_ref(m["from_name"], m["from_version"])
    assert source is not None
    return Rollback(
        deployment_id=m["deployment_id"],
        tenant=m["tenant"],
        from_version=source,
        to_version=ruleset_ref(m["to_name"], m["to_version"]),
        stage_index=int(m["stage_index"]),
        trigger=m["trigger"],
        reason=m["reason"],
        at=utc(m["rolled_back_at"]),
    )
