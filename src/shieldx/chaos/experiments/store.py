"""Experiments, their metrics and safety violations in the chaos tables (SQLAlchemy Core)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from shieldx.chaos import tables
from shieldx.chaos.safety.domain import Observation, Violation
from shieldx.platform.db import Database


class ExperimentStore:
    """Reads and writes the chaos tables; the same SQL serves SQLite and PostgreSQL."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def insert(
        self, *, experiment_id: str, title: str, fault_type: str, definition: Any, status: str
    ) -> None:
        """Record an experiment as it starts."""
        with self.db.write() as conn:
            conn.execute(
                tables.experiments.insert().values(
                    id=experiment_id,
                    title=title[:512],
                    fault_type=fault_type,
                    status=status,
                    definition=json.dumps(definition),
                    started_at=datetime.now(UTC),
                    rolled_back=False,
                )
            )

    def finish(
        self,
        *,
        experiment_id: str,
        status: str,
        rolled_back: bool,
        rollback_s: float | None,
        recovery_s: float | None,
        error: str | None,
        seen: Observation,
    ) -> None:
        """Record how an experiment ended and what was observed meanwhile."""
        now = datetime.now(UTC)
        with self.db.write() as conn:
            conn.execute(
                tables.experiments.update()
                .where(tables.experiments.c.id == experiment_id)
                .values(
                    status=status,
                    finished_at=now,
                    rolled_back=rolled_back,
                    rollback_s=rollback_s,
                    recovery_s=recovery_s,
                    error=error,
                )
            )
            conn.execute(
                tables.metrics.insert().values(
                    experiment_id=experiment_id,
                    total_requests=seen.total,
                    failed_requests=seen.failed,
                    error_rate=seen.error_rate,
                    latency_avg_ms=seen.avg_ms,
                    latency_p95_ms=seen.p95_ms,
                    latency_p99_ms=seen.p99_ms,
                    # No circuit breaker exists in ShieldX yet; the column keeps the seed's shape.
                    circuit_breaker_trips=0,
                    recovery_s=recovery_s,
                    recorded_at=now,
                )
            )

    def add_violations(self, *, experiment_id: str | None, found: Sequence[Violation]) -> None:
        """One row per violation."""
        if not found:
            return
        now = datetime.now(UTC)
        with self.db.write() as conn:
            conn.execute(
                tables.safety_violations.insert(),
                [
                    {
                        "experiment_id": experiment_id,
                        "kind": v.kind,
                        "observed": v.observed,
                        "limit_value": v.limit,
                        "message": v.message,
                        "occurred_at": now,
                    }
                    for v in found
                ],
            )

    def get(self, experiment_id: str) -> dict[str, Any] | None:
        """One experiment with its metrics and violations, as stored."""
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(tables.experiments).where(tables.experiments.c.id == experiment_id)
            ).first()
            if row is None:
                return None
            metric = conn.execute(
                sa.select(tables.metrics)
                .where(tables.metrics.c.experiment_id == experiment_id)
                .order_by(tables.metrics.c.id.desc())
            ).first()
            violations = conn.execute(
                sa.select(tables.safety_violations)
                .where(tables.safety_violations.c.experiment_id == experiment_id)
                .order_by(tables.safety_violations.c.id)
            ).all()
        out = dict(row._mapping)
        out["metrics"] = dict(metric._mapping) if metric is not None else None
        out["violations"] = [dict(v._mapping) for v in violations]
        return out

    def list(self, *, limit: int = 50) -> list[dict[str, Any]]:
        """The newest experiments first (without definitions)."""
        cols = [c for c in tables.experiments.c if c.name != "definition"]
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(*cols).order_by(tables.experiments.c.started_at.desc()).limit(limit)
            ).all()
        return [dict(r._mapping) for r in rows]

    def mark_interrupted(self) -> int:
        """Experiments left 'running' by a process that died: failed (their faults expired)."""
        with self.db.write() as conn:
            result = conn.execute(
                tables.experiments.update()
                .where(tables.experiments.c.status == "running")
                .values(
                    status="failed",
                    finished_at=datetime.now(UTC),
                    error="the server stopped while the experiment ran; its faults expired",
                )
            )
        return int(result.rowcount or 0)
