"""The DR tables on the platform database: regions, health checks, lag, failover history."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from shieldx.dr import tables
from shieldx.dr.failover.domain import Probe
from shieldx.platform.db import Database


def _now() -> datetime:
    return datetime.now(UTC)


class DrStore:
    """Reads and writes the DR tables."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def ensure_regions(self, regions: list[tuple[str, str, int]]) -> None:
        """A cloud_regions row for each configured (name, provider, priority)."""
        with self.db.write() as conn:
            known = {r[0] for r in conn.execute(sa.select(tables.cloud_regions.c.name))}
            for name, provider, priority in regions:
                values = {"provider": provider, "priority": priority, "updated_at": _now()}
                if name in known:
                    conn.execute(
                        tables.cloud_regions.update()
                        .where(tables.cloud_regions.c.name == name)
                        .values(**values)
                    )
                else:
                    conn.execute(
                        tables.cloud_regions.insert().values(
                            name=name, role="unknown", status="healthy", health_score=0.0,
                            consecutive_failures=0, epoch=0, **values,
                        )
                    )  # fmt: skip

    def record_check(
        self, region: str, probe: Probe, *, score: float, role: str, status: str, failures: int,
        mode: str, epoch: int | None,
    ) -> None:  # fmt: skip
        """One health check: its row, the region's state, and the lag of a standby."""
        now = _now()
        with self.db.write() as conn:
            conn.execute(
                tables.health_checks.insert().values(
                    region=region, connected=probe.connected, writable=probe.writable,
                    lag_bytes=probe.lag_bytes, lag_seconds=probe.lag_seconds, score=score,
                    error=probe.error, checked_at=now,
                )
            )  # fmt: skip
            values: dict[str, Any] = {
                "role": role, "status": status, "health_score": score,
                "consecutive_failures": failures, "updated_at": now,
            }  # fmt: skip
            if epoch is not None:
                values["epoch"] = epoch
            conn.execute(
                tables.cloud_regions.update()
                .where(tables.cloud_regions.c.name == region)
                .values(**values)
            )
            if role == "standby" and probe.connected:
                conn.execute(
                    tables.replication_log.insert().values(
                        region=region, mode=mode, lag_bytes=probe.lag_bytes,
                        lag_seconds=probe.lag_seconds, measured_at=now,
                    )
                )  # fmt: skip

    def mark(self, region: str, **values: Any) -> None:
        """Set columns of REGION's cloud_regions row."""
        with self.db.write() as conn:
            conn.execute(
                tables.cloud_regions.update()
                .where(tables.cloud_regions.c.name == region)
                .values(updated_at=_now(), **values)
            )

    def regions(self) -> list[dict[str, Any]]:
        """Every cloud_regions row."""
        with self.db.read() as conn:
            rows = conn.execute(sa.select(tables.cloud_regions).order_by("priority", "name"))
            return [dict(r._mapping) for r in rows]

    def start_failover(
        self, failover_id: str, *, kind: str, source: str, target: str | None, reason: str
    ) -> None:
        """A failover_history row in status running."""
        with self.db.write() as conn:
            conn.execute(
                tables.failover_history.insert().values(
                    id=failover_id, kind=kind, from_region=source, to_region=target,
                    reason=reason, status="running", steps="[]", started_at=_now(),
                )
            )  # fmt: skip

    def save_steps(
        self, failover_id: str, steps: list[dict[str, Any]], *, status: str = "running",
        target: str | None = None,
    ) -> None:  # fmt: skip
        """Record the steps reached so far (and the outcome once finished)."""
        values: dict[str, Any] = {"steps": json.dumps(steps), "status": status}
        if status != "running":
            values["finished_at"] = _now()
        if target is not None:
            values["to_region"] = target
        with self.db.write() as conn:
            conn.execute(
                tables.failover_history.update()
                .where(tables.failover_history.c.id == failover_id)
                .values(**values)
            )

    def finish_failover(
        self, failover_id: str, *, kind: str, source: str, target: str | None, reason: str,
        steps: list[dict[str, Any]], status: str,
    ) -> None:  # fmt: skip
        """Record the outcome, inserting the row if it could not be written at the start
        (the old primary may have refused every write)."""
        with self.db.write() as conn:
            known = conn.execute(
                sa.select(tables.failover_history.c.id).where(
                    tables.failover_history.c.id == failover_id
                )
            ).first()
            if known is None:
                conn.execute(
                    tables.failover_history.insert().values(
                        id=failover_id, kind=kind, from_region=source, to_region=target,
                        reason=reason, status="running", steps="[]", started_at=_now(),
                    )
                )  # fmt: skip
        self.save_steps(failover_id, steps, status=status, target=target)

    def history(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest failovers and failbacks, newest first."""
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(tables.failover_history)
                .order_by(tables.failover_history.c.started_at.desc())
                .limit(limit)
            )
            out = []
            for r in rows:
                row = dict(r._mapping)
                row["steps"] = json.loads(row["steps"])
                out.append(row)
            return out
