"""HTTP routes of the signing keys: rotation (admin) and the published JWKS (public)."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends
from fastapi.responses import Response

from shieldx.locator.keys.schemas import RotateResponse, SigningKeyInfo
from shieldx.locator.tokens.api import JSON, Service, Settings, State, cache_control, fresh
from shieldx.platform.app import requires_second_factor
from shieldx.platform.auth import Principal
from shieldx.platform.errors import Problem
from shieldx.platform.roles import Role

# Rotation changes what every relying party trusts: a second factor when admin_mfa is on.
Admin = Annotated[Principal, Depends(requires_second_factor(Role.ADMIN))]

router = APIRouter(tags=["locator"])


@router.post("/admin/keys/rotate", summary="Rotate the token signing key")
async def rotate(caller: Admin, service: Service, freshness: State) -> RotateResponse:
    """Make a new signing key; the old one keeps verifying until it retires."""
    if caller.tenant is not None:
        # The signing key serves every tenant: one tenant's admin may not replace it.
        raise Problem(
            403,
            f"rotating the signing key needs an admin key that is not scoped to a tenant "
            f"(this one is scoped to {caller.tenant!r})",
            type="tenant-forbidden",
        )
    kid = await anyio.to_thread.run_sync(service.rotate)
    await fresh(freshness)
    records = await anyio.to_thread.run_sync(service.key_records)
    now = service.now()
    keys = [SigningKeyInfo(status=r.status(now), **_public(r)) for r in records]
    return RotateResponse(kid=kid, keys=keys)


# Public (the platform's /.well-known/ prefix): resource servers fetch keys unauthenticated.
@router.get("/.well-known/jwks.json", summary="The published verification keys (JWKS)")
async def jwks(service: Service, freshness: State, settings: Settings) -> Response:
    """The verification keys, cacheable for locator.jwks_max_age."""
    await fresh(freshness)
    return Response(
        service.jwks_body(), media_type=JSON, headers={"Cache-Control": cache_control(settings)}
    )


def _public(record: Any) -> dict[str, Any]:
    return {
        "kid": record.kid,
        "created_at": record.created_at,
        "superseded_at": record.superseded_at,
        "retire_at": record.retire_at,
        "retired_at": record.retired_at,
    }
