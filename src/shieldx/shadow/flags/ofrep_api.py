"""Routes: the OpenFeature Remote Evaluation Protocol (OFREP v1) over the tenant's flags.

Any OpenFeature SDK's OFREP provider reads flags here with an API key as its Bearer token.
Evaluation changes nothing, so every role may call it (the routes are marked `reads`). A
tenant-scoped key reads its own tenant's flags; an unscoped key names one with ?tenant=.
Answers that are not a 200 are problem+json documents that also carry OFREP's fields
(`key`, `errorCode`, `errorDetails`), so a provider and a person both read them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import Response

from shieldx.platform.app import provided, reads
from shieldx.platform.errors import Problem
from shieldx.shadow.access import Reader, TenantQuery
from shieldx.shadow.flags import ofrep
from shieldx.shadow.flags.service import FlagService

Flags = Annotated[FlagService, Depends(provided(FlagService))]

router = APIRouter(prefix="/ofrep/v1", tags=["ofrep"])
_BODY = {
    "requestBody": {
        "required": False,
        "content": {"application/json": {"schema": ofrep.REQUEST_SCHEMA}},
    }
}
JSON = "application/json"


def _failure(status: int, code: str, details: str, key: str | None = None) -> Problem:
    fields: dict[str, Any] = {} if key is None else {"key": key}
    slug = "flag-not-found" if code == ofrep.FLAG_NOT_FOUND else "ofrep-" + code.lower()
    return Problem(
        status,
        details,
        type=slug.replace("_", "-"),
        **fields,
        errorCode=code,
        errorDetails=details,
    )


async def _context(request: Request, key: str | None = None) -> dict[str, object]:
    try:
        return ofrep.parse_request(await request.body())
    except ofrep.OfrepError as exc:
        raise _failure(exc.status, exc.code, exc.details, key) from None


@router.post(
    "/evaluate/flags/{key}",
    summary="OFREP: evaluate one flag for a context",
    openapi_extra=_BODY,
    responses=ofrep.SINGLE_RESPONSES,
)
@reads
async def evaluate_flag(
    key: str, request: Request, caller: Reader, flags: Flags, tenant: TenantQuery = None
) -> Response:
    owner = caller.tenant_for(tenant)
    context = await _context(request, key)
    await flags.ensure_fresh()
    found = flags.resolve(owner, key, context)
    if found is None:
        raise _failure(404, ofrep.FLAG_NOT_FOUND, ofrep.not_found_details(key), key)
    resolution, revision = found
    status, doc = ofrep.evaluation_doc(key, resolution, {"revision": revision})
    if status != 200:
        raise _failure(status, doc["errorCode"], doc["errorDetails"], key)
    return Response(ofrep.encode(doc), media_type=JSON)


@router.post(
    "/evaluate/flags",
    summary="OFREP: evaluate every flag of the tenant for a context (ETag, If-None-Match)",
    openapi_extra=_BODY,
    responses=ofrep.BULK_RESPONSES,
)
@reads
async def evaluate_flags(
    request: Request,
    caller: Reader,
    flags: Flags,
    tenant: TenantQuery = None,
    if_none_match: Annotated[str | None, Header(max_length=4096)] = None,
) -> Response:
    owner = caller.tenant_for(tenant)
    context = await _context(request)
    await flags.ensure_fresh()
    evaluations = [
        (key, resolution, {"revision": revision})
        for key, resolution, revision in flags.resolve_all(owner, context)
    ]
    body = ofrep.encode(ofrep.bulk_doc(evaluations))
    tag = ofrep.etag(body)
    if ofrep.none_match(if_none_match, tag):
        return Response(status_code=304, headers={"ETag": tag})
    return Response(body, media_type=JSON, headers={"ETag": tag})
