"""HTTP route of sensor reports: POST /v1/camouflage/log records them like decoy requests."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from shieldx.camouflage.access import Actor, Camouflage
from shieldx.camouflage.recon.schemas import LogAccepted, LogRequest
from shieldx.camouflage.recon.service import record_reports
from shieldx.platform.errors import Problem

router = APIRouter(prefix="/v1/camouflage", tags=["sessions"])


@router.post(
    "/log",
    response_model=LogAccepted,
    response_model_exclude_unset=True,
    summary="Report recon attempts",
)
async def log(body: LogRequest, _: Actor, service: Camouflage) -> dict[str, Any]:
    """Record a batch of sensor reports (at most camouflage.recording.log_batch_max)."""
    batch_max = service.settings.recording.log_batch_max
    if len(body.events) > batch_max:
        raise Problem(
            422,
            f"a batch holds at most {batch_max} events (got {len(body.events)}); "
            "split it (camouflage.recording.log_batch_max)",
            type="batch-too-large",
        )
    return record_reports(
        recorder=service.recorder, tracker=service.tracker, reports=body.events, now=service.clock()
    )
