"""Routes: run an assessment, read scores, evidence and remediation plans."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request

from shieldx.compliance.access import Reader, Writer
from shieldx.compliance.assessment.schemas import (
    AssessmentOut,
    ChainOut,
    EvidenceOut,
    PlanOut,
    PlanUpdate,
    ScoreOut,
)
from shieldx.compliance.assessment.service import AssessmentService
from shieldx.platform.app import provided
from shieldx.platform.auth import Authenticator
from shieldx.platform.errors import Problem

router = APIRouter(prefix="/compliance", tags=["compliance"])

Service = Annotated[AssessmentService, Depends(provided(AssessmentService))]


@router.post(
    "/assessments",
    response_model=AssessmentOut,
    status_code=201,
    summary="Assess the running platform against every enabled framework",
)
async def assess(request: Request, caller: Writer, service: Service) -> dict[str, Any]:
    """Run every check now; the caller's key is used for the probes that need one."""
    key = Authenticator.parse_header(request.headers.get("authorization"))
    return await service.assess(api_key=key, requested_by=caller.key_id)


@router.get("/assessments/latest", response_model=AssessmentOut, summary="The latest assessment")
async def latest(caller: Reader, service: Service) -> dict[str, Any]:
    """The newest stored assessment."""
    return await _report(service, None)


@router.get("/assessments/{report_id}", response_model=AssessmentOut, summary="One assessment")
async def one(report_id: str, caller: Reader, service: Service) -> dict[str, Any]:
    """A stored assessment by id."""
    return await _report(service, report_id)


async def _report(service: AssessmentService, report_id: str | None) -> dict[str, Any]:
    found = await anyio.to_thread.run_sync(service.store.report, report_id)
    if found is None:
        what = (
            "no assessment yet: POST /compliance/assessments"
            if report_id is None
            else (f"no assessment with id {report_id!r}")
        )
        raise Problem(404, what, type="not-found")
    return found


@router.get("/score", response_model=ScoreOut, summary="Latest scores and their history")
async def score(
    caller: Reader,
    service: Service,
    history: Annotated[int, Query(ge=1, le=1000, description="History points.")] = 30,
) -> dict[str, Any]:
    """The latest overall and per-framework scores, and the last HISTORY assessments."""
    points = await anyio.to_thread.run_sync(service.store.history, history)
    last = points[-1] if points else None
    return {
        "overall": last["overall"] if last else None,
        "frameworks": last["frameworks"] if last else {},
        "history": points,
    }


@router.get("/evidence", response_model=list[EvidenceOut], summary="Evidence of an assessment")
async def evidence(
    caller: Reader,
    service: Service,
    report_id: Annotated[str | None, Query(max_length=64, description="Default: latest.")] = None,
) -> list[dict[str, Any]]:
    """Every evidence row an assessment stored (the latest by default)."""
    report = await _report(service, report_id)
    return await anyio.to_thread.run_sync(service.store.evidence_of, report["id"])


@router.get("/evidence/verify", response_model=ChainOut, summary="Verify the evidence chain")
async def verify(caller: Reader, service: Service) -> dict[str, Any]:
    """Recompute every evidence digest and link; name the first row that does not match."""
    return await anyio.to_thread.run_sync(service.store.verify_evidence)


@router.get("/remediation", response_model=list[PlanOut], summary="Remediation plans")
async def plans(
    caller: Reader, service: Service, include_done: bool = False
) -> list[dict[str, Any]]:
    """Open (and with include_done, finished) remediation plans."""
    return await anyio.to_thread.run_sync(lambda: service.store.plans(include_done=include_done))


@router.patch("/remediation/{plan_id}", response_model=PlanOut, summary="Update a plan")
async def update_plan(
    plan_id: str, body: PlanUpdate, caller: Writer, service: Service
) -> dict[str, Any]:
    """Set a plan's owner, due date or state."""
    changes: dict[str, Any] = body.model_dump(exclude_none=True, exclude={"due_at"})
    if body.due_at is not None:
        if body.due_at.tzinfo is None:
            raise Problem(422, "due_at needs a time zone (e.g. 2027-01-31T00:00:00Z)")
        changes["due_at_us"] = int(body.due_at.timestamp() * 1_000_000)
    if not changes:
        raise Problem(422, "nothing to change: send owner, due_at or state")
    updated = await anyio.to_thread.run_sync(
        lambda: service.store.update_plan(plan_id, changes, service.alerts.now_us())
    )
    if updated is None:
        raise Problem(404, f"no remediation plan with id {plan_id!r}", type="not-found")
    return updated
