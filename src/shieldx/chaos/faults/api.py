"""Routes: list, inject and remove single faults (what the Chaos Toolkit extension calls)."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from shieldx.chaos.experiments.service import ChaosEngine
from shieldx.chaos.faults.domain import FaultSpecError, parse_fault
from shieldx.chaos.faults.process import ProcessNotFound
from shieldx.chaos.faults.schemas import FaultIn, FaultOut, FaultsOut
from shieldx.chaos.faults.service import FaultService
from shieldx.platform.app import provided, requires
from shieldx.platform.auth import Principal
from shieldx.platform.errors import Problem
from shieldx.platform.roles import Role

router = APIRouter(prefix="/chaos", tags=["chaos"])
Engine = Annotated[ChaosEngine, Depends(provided(ChaosEngine))]
Faults = Annotated[FaultService, Depends(provided(FaultService))]
Admin = Annotated[Principal, Depends(requires(Role.ADMIN))]
Reader = Annotated[Principal, Depends(requires(Role.ADMIN, Role.AUDITOR))]


@router.get("/faults", summary="Live faults and the last 10 s of requests")
async def list_faults(faults: Faults, _: Reader) -> FaultsOut:
    """Every live fault, and the error rate and p99 over the last 10 seconds."""
    seen = faults.http.observe(time.monotonic() - 10)
    return FaultsOut(
        faults=[FaultOut.model_validate(f.describe()) for f in faults.active()],
        requests=seen.total,
        error_rate=round(seen.error_rate, 3),
        p99_ms=round(seen.p99_ms, 3),
    )


@router.post("/faults", status_code=201, summary="Inject one fault (admin)")
async def inject_fault(engine: Engine, _: Admin, body: FaultIn) -> FaultOut:
    """Apply one fault now, under the same admission rules and halt guard as experiments."""
    reasons = engine.policy.refusals(hour=engine.hour(), running=engine.running())
    if reasons:
        raise Problem(
            409,
            "the safety rules refuse this fault now: " + "; ".join(reasons),
            type="chaos-not-admitted",
            reasons=reasons,
        )
    try:
        spec = parse_fault(body.spec(), max_ttl_s=engine.max_ttl_s)
        fault = engine.faults.apply(spec)
    except (FaultSpecError, ProcessNotFound) as exc:
        raise Problem(422, str(exc), type="invalid-fault") from exc
    return FaultOut.model_validate(fault.describe())


@router.delete("/faults", summary="Remove every live fault (admin)")
async def remove_all_faults(faults: Faults, _: Admin) -> dict[str, int]:
    """Roll back every fault, whoever applied it."""
    return {"removed": faults.rollback()}


@router.delete("/faults/{fault_id}", status_code=204, summary="Remove one fault (admin)")
async def remove_fault(fault_id: str, faults: Faults, _: Admin) -> Response:
    """Roll back one fault."""
    if not faults.remove(fault_id):
        raise Problem(404, f"no live fault with id {fault_id!r}", type="not-found")
    return Response(status_code=204)
