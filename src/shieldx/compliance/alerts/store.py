"""The compliance_alerts table."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from shieldx.compliance import tables
from shieldx.platform.db import Database


@dataclass(frozen=True)
class NewAlert:
    """An alert to raise; DEDUPE_KEY names the condition so it is raised only once."""

    dedupe_key: str
    severity: str
    subject: str
    detail: str
    deadline_at_us: int | None = None


class AlertStore:
    """Alerts in the database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def raise_new(self, alert: NewAlert, now_us: int) -> dict[str, Any] | None:
        """Store ALERT unless its condition was already raised; the stored row, or None."""
        c = tables.alerts.c
        with self.db.write() as conn:
            exists = conn.execute(sa.select(c.id).where(c.dedupe_key == alert.dedupe_key)).first()
            if exists is not None:
                return None
            row = {
                "id": secrets.token_hex(8),
                "dedupe_key": alert.dedupe_key,
                "severity": alert.severity,
                "subject": alert.subject,
                "detail": alert.detail,
                "created_at_us": now_us,
                "deadline_at_us": alert.deadline_at_us,
                "acknowledged_at_us": None,
                "acknowledged_by": None,
                "escalated_at_us": None,
                "deliveries": "{}",
            }
            conn.execute(tables.alerts.insert().values(**row))
        return row

    def alerts(self, *, open_only: bool) -> list[dict[str, Any]]:
        """Alerts, newest first."""
        query = sa.select(tables.alerts).order_by(tables.alerts.c.created_at_us.desc())
        if open_only:
            query = query.where(tables.alerts.c.acknowledged_at_us.is_(None))
        with self.db.read() as conn:
            return [_alert(row) for row in conn.execute(query)]

    def get(self, alert_id: str) -> dict[str, Any] | None:
        """One alert."""
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(tables.alerts).where(tables.alerts.c.id == alert_id)
            ).first()
        return None if row is None else _alert(row)

    def acknowledge(self, alert_id: str, by: str, now_us: int) -> dict[str, Any] | None:
        """Mark an alert acknowledged (the first acknowledgement stands); None if unknown."""
        c = tables.alerts.c
        with self.db.write() as conn:
            conn.execute(
                tables.alerts.update()
                .where(c.id == alert_id, c.acknowledged_at_us.is_(None))
                .values(acknowledged_at_us=now_us, acknowledged_by=by)
            )
            row = conn.execute(sa.select(tables.alerts).where(c.id == alert_id)).first()
        return None if row is None else _alert(row)

    def claim_escalations(self, created_before_us: int, now_us: int) -> list[dict[str, Any]]:
        """Mark unacknowledged, unescalated alerts raised before CREATED_BEFORE_US as escalated
        and return them (each is escalated once)."""
        c = tables.alerts.c
        due = sa.and_(
            c.acknowledged_at_us.is_(None),
            c.escalated_at_us.is_(None),
            c.created_at_us < created_before_us,
        )
        with self.db.write() as conn:
            rows = conn.execute(sa.select(tables.alerts).where(due)).all()
            if rows:
                conn.execute(
                    tables.alerts.update()
                    .where(c.id.in_([r.id for r in rows]))
                    .values(escalated_at_us=now_us)
                )
        return [_alert(row) | {"escalated_at_us": now_us} for row in rows]

    def record_delivery(self, alert_id: str, outcomes: dict[str, str]) -> None:
        """Merge channel outcomes into the alert's delivery record."""
        c = tables.alerts.c
        with self.db.write() as conn:
            current = conn.execute(sa.select(c.deliveries).where(c.id == alert_id)).scalar()
            merged = json.loads(current or "{}") | outcomes
            conn.execute(
                tables.alerts.update().where(c.id == alert_id).values(deliveries=json.dumps(merged))
            )


def _alert(row: sa.Row[Any]) -> dict[str, Any]:
    data = dict(row._mapping)
    data["deliveries"] = json.loads(data["deliveries"])
    return data
