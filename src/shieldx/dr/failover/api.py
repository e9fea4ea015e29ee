"""Routes: /dr/status, /dr/failover, /dr/failback, /dr/check (admin; status also auditor)."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends

from shieldx.dr.failover.schemas import FailoverIn, FailoverOut, StatusOut
from shieldx.dr.failover.service import DisasterRecovery, FailoverRefused
from shieldx.platform.app import provided, requires
from shieldx.platform.auth import Principal
from shieldx.platform.errors import Problem
from shieldx.platform.roles import Role

router = APIRouter(prefix="/dr", tags=["dr"])
Engine = Annotated[DisasterRecovery, Depends(provided(DisasterRecovery))]
Admin = Annotated[Principal, Depends(requires(Role.ADMIN))]
Reader = Annotated[Principal, Depends(requires(Role.ADMIN, Role.AUDITOR))]


@router.get("/status", summary="Regions, health scores, replication mode, recent failovers")
async def status(engine: Engine, _: Reader) -> StatusOut:
    """What the last health checks found, and the latest failovers and failbacks."""
    return StatusOut.model_validate(await anyio.to_thread.run_sync(engine.status))


@router.post("/check", summary="Run one health check of every region now (admin)")
async def check(engine: Engine, _: Admin) -> dict[str, float]:
    """Probe every region now (as the health loop does every health_check_interval)."""
    return await anyio.to_thread.run_sync(engine.check_all)


async def _run(call: Any) -> FailoverOut:
    try:
        done = await anyio.to_thread.run_sync(call)
    except FailoverRefused as exc:
        raise Problem(exc.status, str(exc), type="dr-failover-refused") from None
    return FailoverOut.model_validate(done)


@router.post("/failover", summary="Move the primary role to another region (admin)")
async def failover(engine: Engine, _: Admin, body: FailoverIn | None = None) -> FailoverOut:
    """The six steps (detect, fence, promote, route, verify_lag, confirm), each recorded."""
    target = body.to if body else None
    return await _run(lambda: engine.failover(target, reason="requested through /dr/failover"))


@router.post("/failback", summary="Return the primary role to the preferred region (admin)")
async def failback(engine: Engine, _: Admin) -> FailoverOut:
    """Fail over back to the region with the lowest priority number."""
    return await _run(engine.failback)
