"""Routes: feature flags (CRUD, the kill switch, OpenFeature-shaped evaluation).

Route functions carry no docstrings: FastAPI would publish them as descriptions; each
route's summary says what it does.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends
from fastapi.responses import Response

from shieldx.platform.app import provided
from shieldx.shadow.access import Gateway, Reader, TenantQuery, Writer
from shieldx.shadow.flags.schemas import (
    EvaluateIn,
    EvaluationOut,
    FlagBody,
    FlagCreate,
    FlagOut,
    FlagPatch,
)
from shieldx.shadow.flags.service import FlagService
from shieldx.shadow.service import ShadowService

Flags = Annotated[FlagService, Depends(provided(FlagService))]
Service = Annotated[ShadowService, Depends(provided(ShadowService))]

router = APIRouter(tags=["flags"])


@router.post(
    "/shadow/flags", status_code=201, response_model=FlagOut, summary="Create a feature flag"
)
async def create_flag(
    body: FlagCreate, caller: Writer, flags: Flags, tenant: TenantQuery = None
) -> Any:
    owner = caller.tenant_for(tenant)
    definition = body.model_dump(exclude={"enabled", "key"})
    return await anyio.to_thread.run_sync(
        lambda: flags.create(owner, body.key, definition, body.enabled)
    )


@router.get("/shadow/flags", response_model=list[FlagOut], summary="List feature flags")
async def list_flags(caller: Reader, flags: Flags, tenant: TenantQuery = None) -> Any:
    owner = caller.tenant_for(tenant)
    await flags.ensure_fresh()
    return flags.for_tenant(owner)


@router.get("/shadow/flags/{key}", response_model=FlagOut, summary="One feature flag")
async def get_flag(key: str, caller: Reader, flags: Flags, tenant: TenantQuery = None) -> Any:
    owner = caller.tenant_for(tenant)
    return await anyio.to_thread.run_sync(flags.get, owner, key)


@router.put(
    "/shadow/flags/{key}", response_model=FlagOut, summary="Replace a feature flag's definition"
)
async def replace_flag(
    key: str, body: FlagBody, caller: Writer, flags: Flags, tenant: TenantQuery = None
) -> Any:
    owner = caller.tenant_for(tenant)
    return await anyio.to_thread.run_sync(
        lambda: flags.replace(owner, key, body.definition(), body.enabled)
    )


@router.patch(
    "/shadow/flags/{key}",
    response_model=FlagOut,
    summary='Change part of a flag; {"enabled": false} is the kill switch',
)
async def patch_flag(
    key: str, body: FlagPatch, caller: Writer, flags: Flags, tenant: TenantQuery = None
) -> Any:
    owner = caller.tenant_for(tenant)
    # Only a rollout can be removed with null; other keys given as null keep their value.
    changes = {
        k: v
        for k, v in body.model_dump(include=body.model_fields_set).items()
        if v is not None or k == "rollout"
    }

    def patch() -> dict[str, Any]:
        current = flags.stored(owner, key)
        enabled = changes.pop("enabled", current.enabled)
        definition = {**current.definition, **changes}
        return flags.replace(owner, key, definition, enabled)

    return await anyio.to_thread.run_sync(patch)


@router.delete("/shadow/flags/{key}", status_code=204, summary="Delete a feature flag")
async def delete_flag(
    key: str, caller: Writer, flags: Flags, tenant: TenantQuery = None
) -> Response:
    owner = caller.tenant_for(tenant)
    await anyio.to_thread.run_sync(flags.delete, owner, key)
    return Response(status_code=204)


@router.post(
    "/shadow/flags/{key}/evaluate",
    response_model=EvaluationOut,
    # error_code and error_message are only there when the resolution failed.
    response_model_exclude_unset=True,
    summary="Evaluate a flag for a context (OpenFeature resolution)",
)
async def evaluate(
    key: str,
    caller: Gateway,
    service: Service,
    body: EvaluateIn | None = None,
    tenant: TenantQuery = None,
) -> Any:
    context = body.context if body is not None else {}
    return await service.evaluate_flag(caller.tenant_for(tenant), key, context)
