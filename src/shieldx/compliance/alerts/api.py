"""Routes: list alerts, acknowledge one."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends

from shieldx.compliance.access import Reader, Writer
from shieldx.compliance.alerts.schemas import AlertOut
from shieldx.compliance.alerts.service import AlertService
from shieldx.platform.app import provided
from shieldx.platform.errors import Problem

router = APIRouter(prefix="/compliance/alerts", tags=["compliance"])

Alerts = Annotated[AlertService, Depends(provided(AlertService))]


@router.get("", response_model=list[AlertOut], summary="Compliance alerts, newest first")
async def list_alerts(
    caller: Reader, alerts: Alerts, open_only: bool = False
) -> list[dict[str, Any]]:
    """Every alert (or only those not acknowledged)."""
    return await anyio.to_thread.run_sync(lambda: alerts.store.alerts(open_only=open_only))


@router.post("/{alert_id}/acknowledge", response_model=AlertOut, summary="Acknowledge an alert")
async def acknowledge(alert_id: str, caller: Writer, alerts: Alerts) -> dict[str, Any]:
    """Acknowledge an alert: it stops escalating; the first acknowledgement is kept."""
    row = await alerts.acknowledge(alert_id, by=caller.key_id)
    if row is None:
        raise Problem(404, f"no alert with id {alert_id!r}", type="not-found")
    return row
