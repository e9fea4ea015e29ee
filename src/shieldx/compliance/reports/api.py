"""Route: a report of the latest (or a given) assessment in JSON, CSV, HTML or OSCAL."""

from __future__ import annotations

from typing import Annotated, Literal

import anyio.to_thread
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from shieldx.compliance.access import Reader
from shieldx.compliance.assessment.service import AssessmentService
from shieldx.compliance.reports.render import (
    MEDIA_TYPES,
    PdfUnavailable,
    render,
    select,
    select_history,
)
from shieldx.platform.app import provided
from shieldx.platform.errors import Problem

router = APIRouter(prefix="/compliance/reports", tags=["compliance"])

Service = Annotated[AssessmentService, Depends(provided(AssessmentService))]


@router.get(
    "/{framework}",
    summary="A report of one framework ('all' for every one)",
    response_class=Response,
    responses={200: {"content": {t: {} for t in set(MEDIA_TYPES.values())}}},
)
async def report(
    framework: str,
    caller: Reader,
    service: Service,
    format: Annotated[Literal["json", "csv", "html", "pdf", "oscal"], Query()] = "json",
    report_id: Annotated[str | None, Query(max_length=64)] = None,
    history: Annotated[int, Query(ge=1, le=1000)] = 30,
) -> Response:
    """Render an assessment (the latest by default) with the last HISTORY scores."""
    stored = await anyio.to_thread.run_sync(service.store.report, report_id)
    if stored is None:
        raise Problem(
            404, "no such assessment: POST /compliance/assessments first", type="not-found"
        )
    try:
        chosen = select(stored, framework)
    except KeyError:
        known = ", ".join(["all", *stored["frameworks"]])
        raise Problem(
            404,
            f"no framework {framework!r} in this assessment; use one of: {known}",
            type="not-found",
        ) from None
    points = select_history(
        await anyio.to_thread.run_sync(service.store.history, history), framework
    )
    try:
        body = await anyio.to_thread.run_sync(render, format, chosen, points)
    except PdfUnavailable as exc:
        raise Problem(501, str(exc), type="not-implemented") from None
    return Response(body, media_type=MEDIA_TYPES[format])
