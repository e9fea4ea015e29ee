"""GET /shadow/deployments/{id}: the plan, the stage history with gate figures, rollbacks."""

from __future__ import annotations

from typing import Any

from shieldx.shadow.rollouts.domain import Status, Step
from shieldx.shadow.rollouts.service import check_doc
from shieldx.shadow.rollouts.store import (
    Deployment,
    DeploymentStore,
    Rollback,
    StageRecord,
)
from shieldx.shadow.rollouts.traffic_rules import RulesetRef
from shieldx.shadow.timeutil import iso


def ref_text(ref: RulesetRef | None) -> str | None:
    """ "name@version", or None."""
    return None if ref is None else f"{ref[0]}@{ref[1]}"


def deployment_summary(d: Deployment) -> dict[str, Any]:
    """A deployment's definition and where it stands."""
    return {
        "id": d.id,
        "tenant": d.tenant,
        "strategy": d.strategy.value,
        "status": d.status.value,
        "target": ref_text(d.target),
        "previous": ref_text(d.previous),
        "test_id": d.test_id,
        "stage_index": d.stage_index,
        "stages_total": len(d.plan),
        # Once completed the target takes all traffic, whatever the last stage's share
        # (a blue-green plan may end on its 0 % analysis stage).
        "percentage": 100.0 if d.status is Status.COMPLETED else d.stage.percentage,
        "reason": d.reason,
        "created_at": iso(d.created_at),
        "updated_at": iso(d.updated_at),
        "finished_at": iso(d.finished_at),
        "created_by": d.created_by,
    }


def stage_doc(stage: StageRecord) -> dict[str, Any]:
    """One stage attempt with its counts and, once ended, its verdict and gate figures."""
    return {
        "seq": stage.seq,
        "stage_index": stage.stage_index,
        "phase": stage.phase.value,
        "percentage": stage.percentage,
        "started_at": iso(stage.started_at),
        "ended_at": iso(stage.ended_at),
        "verdict": stage.verdict,
        "reason": stage.reason,
        "counts": stage.counts.as_dict(),
        "checks": stage.checks,
    }


def rollback_doc(r: Rollback) -> dict[str, Any]:
    """A switch back to the previous version."""
    return {
        "from": ref_text(r.from_version),
        "to": ref_text(r.to_version),
        "stage_index": r.stage_index,
        "trigger": r.trigger,
        "reason": r.reason,
        "at": iso(r.at),
    }


def deployment_report(
    d: Deployment, store: DeploymentStore, current: Step | None
) -> dict[str, Any]:
    """Blocking: the full document, with CURRENT (the live judgement) while it runs."""
    doc = deployment_summary(d)
    doc["sticky_key"] = d.sticky_key
    doc["policy"] = d.policy.as_dict()
    doc["plan"] = [stage.as_dict() for stage in d.plan]
    doc["stages"] = [stage_doc(s) for s in store.stages(d.id)]
    doc["rollbacks"] = [rollback_doc(r) for r in store.rollbacks(d.id)]
    doc["current"] = None
    if current is not None:
        doc["current"] = {
            "stage_index": d.stage_index,
            "seq": d.stage_seq,
            "started_at": iso(d.stage_started_at),
            "next_move": current.move.value,
            "verdict": current.judgement.verdict.value,
            "reason": current.reason,
            "checks": [check_doc(c) for c in current.judgement.checks],
        }
    return doc
