"""Persistence of assessments: the catalogue, reports (score history), evidence, remediation."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from shieldx.compliance import tables
from shieldx.compliance.assessment.domain import GENESIS, link_hash, sha256_hex
from shieldx.compliance.frameworks.domain import Framework
from shieldx.platform.db import Database

PLAN_STATES = ("open", "in_progress", "done")


@dataclass(frozen=True)
class EvidenceItem:
    """One piece of evidence to store: the check, its verdict and the canonical data text."""

    check: str
    status: str
    data: str


@dataclass(frozen=True)
class StoredEvidence:
    """Where a piece of evidence landed: its sequence number and digests."""

    seq: int
    sha256: str
    hash: str


class AssessmentStore:
    """The compliance tables an assessment writes and reads."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def sync_catalogue(self, frameworks: Sequence[Framework], now_us: int) -> None:
        """Record the frameworks, controls and control checks as loaded from the files."""
        ids = [f.id for f in frameworks]
        with self.db.write() as conn:
            for table in (tables.control_checks, tables.controls):
                conn.execute(table.delete().where(table.c.framework.in_(ids)))
            conn.execute(tables.frameworks.delete().where(tables.frameworks.c.id.in_(ids)))
            for fw in frameworks:
                conn.execute(
                    tables.frameworks.insert().values(
                        id=fw.id, title=fw.title, version=fw.version, loaded_at_us=now_us
                    )
                )
                for control in fw.controls:
                    conn.execute(
                        tables.controls.insert().values(
                            framework=fw.id, control_id=control.id, title=control.title
                        )
                    )
                    severities: dict[str, str] = {}
                    for ref in control.checks:  # one row per check name: the worst severity
                        severities.setdefault(ref.check, ref.severity)
                    for check, severity in severities.items():
                        conn.execute(
                            tables.control_checks.insert().values(
                                framework=fw.id,
                                control_id=control.id,
                                check_id=check,
                                severity=severity,
                            )
                        )

    def append_evidence(
        self, report_id: str, items: Sequence[EvidenceItem], now_us: int
    ) -> list[StoredEvidence]:
        """Append ITEMS to the evidence chain, each linked to the one before."""
        stored = []
        with self.db.write() as conn:
            last = conn.execute(
                sa.select(tables.evidence.c.hash)
                .order_by(tables.evidence.c.seq.desc())
                .limit(1)
                .with_for_update()
            ).scalar()
            prev = last or GENESIS
            for item in items:
                digest = sha256_hex(item.data)
                chained = link_hash(prev, digest, item.check, item.status, now_us, report_id)
                seq = conn.execute(
                    tables.evidence.insert().values(
                        report_id=report_id,
                        check_id=item.check,
                        status=item.status,
                        collected_at_us=now_us,
                        data=item.data,
                        sha256=digest,
                        prev_hash=prev,
                        hash=chained,
                    )
                ).inserted_primary_key
                assert seq is not None
                stored.append(StoredEvidence(int(seq[0]), digest, chained))
                prev = chained
        return stored

    def verify_evidence(self) -> dict[str, Any]:
        """Recompute every digest and link; name the first row that does not match.

        The oldest remaining row's prev_hash is the anchor (rows before it were pruned by
        compliance.evidence_retention_days).
        """
        checked = 0
        prev: str | None = None
        with self.db.read() as conn:
            rows = conn.execute(sa.select(tables.evidence).order_by(tables.evidence.c.seq))
            for row in rows:
                if prev is not None and row.prev_hash != prev:
                    return _broken(checked, row.seq, "its prev_hash is not the previous hash")
                if sha256_hex(row.data) != row.sha256:
                    return _broken(checked, row.seq, "its data does not match its sha256")
                expected = link_hash(
                    row.prev_hash,
                    row.sha256,
                    row.check_id,
                    row.status,
                    row.collected_at_us,
                    row.report_id,
                )
                if expected != row.hash:
                    return _broken(checked, row.seq, "its hash does not match its fields")
                prev = row.hash
                checked += 1
        return {"ok": True, "verified": checked, "head_hash": prev, "first_bad_seq": None}

    def prune_evidence(self, before_us: int) -> int:
        """Delete evidence collected before BEFORE_US (retention); the chain stays verifiable."""
        with self.db.write() as conn:
            result = conn.execute(
                tables.evidence.delete().where(tables.evidence.c.collected_at_us < before_us)
            )
        return int(result.rowcount or 0)

    def evidence_of(self, report_id: str) -> list[dict[str, Any]]:
        """The evidence rows stored by one assessment."""
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(tables.evidence)
                .where(tables.evidence.c.report_id == report_id)
                .order_by(tables.evidence.c.seq)
            ).all()
        return [_evidence(row) for row in rows]

    def insert_report(
        self, *, report_id: str, now_us: int, requested_by: str, overall: float, result: str
    ) -> None:
        """Record one assessment's result (a point of the score history)."""
        with self.db.write() as conn:
            conn.execute(
                tables.reports.insert().values(
                    id=report_id,
                    created_at_us=now_us,
                    requested_by=requested_by,
                    overall=overall,
                    result=result,
                )
            )

    def report(self, report_id: str | None = None) -> dict[str, Any] | None:
        """One stored assessment result (the latest when REPORT_ID is None)."""
        query = sa.select(tables.reports.c.result)
        if report_id is None:
            query = query.order_by(tables.reports.c.created_at_us.desc()).limit(1)
        else:
            query = query.where(tables.reports.c.id == report_id)
        with self.db.read() as conn:
            text = conn.execute(query).scalar()
        return None if text is None else dict(json.loads(text))

    def history(self, limit: int) -> list[dict[str, Any]]:
        """The newest LIMIT assessments' scores, oldest first."""
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(tables.reports)
                .order_by(tables.reports.c.created_at_us.desc())
                .limit(limit)
            ).all()
        points = []
        for row in reversed(rows):
            result = json.loads(row.result)
            points.append(
                {
                    "id": row.id,
                    "at_us": row.created_at_us,
                    "overall": row.overall,
                    "frameworks": {k: v["score"] for k, v in result["frameworks"].items()},
                }
            )
        return points

    def open_plan(
        self,
        *,
        framework: str,
        control: str,
        severity: str,
        recommendation: str,
        due_at_us: int,
        report_id: str,
        now_us: int,
    ) -> str:
        """The id of the unfinished plan for this control, opening one when there is none."""
        c = tables.remediation_plans.c
        with self.db.write() as conn:
            existing = conn.execute(
                sa.select(c.id).where(
                    c.framework == framework, c.control_id == control, c.state != "done"
                )
            ).scalar()
            if existing is not None:
                return str(existing)
            plan_id = secrets.token_hex(8)
            conn.execute(
                tables.remediation_plans.insert().values(
                    id=plan_id,
                    framework=framework,
                    control_id=control,
                    severity=severity,
                    recommendation=recommendation,
                    owner=None,
                    due_at_us=due_at_us,
                    state="open",
                    opened_by_report=report_id,
                    created_at_us=now_us,
                    updated_at_us=now_us,
                )
            )
        return plan_id

    def plans(self, *, include_done: bool) -> list[dict[str, Any]]:
        """Remediation plans, oldest first."""
        query = sa.select(tables.remediation_plans).order_by(
            tables.remediation_plans.c.created_at_us
        )
        if not include_done:
            query = query.where(tables.remediation_plans.c.state != "done")
        with self.db.read() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def update_plan(
        self, plan_id: str, changes: dict[str, Any], now_us: int
    ) -> dict[str, Any] | None:
        """Set a plan's owner, due date or state; None when no such plan."""
        c = tables.remediation_plans.c
        with self.db.write() as conn:
            result = conn.execute(
                tables.remediation_plans.update()
                .where(c.id == plan_id)
                .values(**changes, updated_at_us=now_us)
            )
            if not result.rowcount:
                return None
            row = conn.execute(sa.select(tables.remediation_plans).where(c.id == plan_id)).one()
        return dict(row._mapping)


def _broken(checked: int, seq: int, reason: str) -> dict[str, Any]:
    return {"ok": False, "verified": checked, "first_bad_seq": seq, "reason": reason}


def _evidence(row: sa.Row[Any]) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "check": row.check_id,
        "status": row.status,
        "collected_at_us": row.collected_at_us,
        "sha256": row.sha256,
        "hash": row.hash,
        "data": json.loads(row.data),
    }
