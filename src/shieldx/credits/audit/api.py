"""The audit route: verify the hash chain (and, deep, the derived rows) over a range."""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends

from shieldx.credits.audit import verify as audit
from shieldx.credits.audit.schemas import VerifyRequest, VerifyResult
from shieldx.credits.ledger.service import CreditsService
from shieldx.platform.app import provided, reads, requires
from shieldx.platform.auth import Principal
from shieldx.platform.errors import Problem
from shieldx.platform.roles import Role

Auditor = Annotated[Principal, Depends(requires(Role.ADMIN, Role.AUDITOR))]
Ledger = Annotated[CreditsService, Depends(provided(CreditsService))]

router = APIRouter(prefix="/credits", tags=["credits"])


@router.post("/audit/verify", response_model=VerifyResult, summary="Verify the hash chain")
@reads
async def verify(body: VerifyRequest, caller: Auditor, service: Ledger) -> dict[str, object]:
    """Recompute the hash chain and name the first bad position."""
    if caller.tenant is not None:
        raise Problem(
            403,
            "the hash chain spans every tenant: verify it with an unscoped admin or auditor key",
            type="forbidden",
        )
    results: dict[str, dict[str, object]] = {}
    for name, shard in service.shard_services().items():
        try:
            result = await anyio.to_thread.run_sync(
                lambda s=shard: audit.verify(  # type: ignore[misc]
                    s.store,
                    from_position=body.from_position,
                    to_position=body.to_position,
                    deep=body.deep,
                )
            )
        except audit.RangeRefused as exc:
            where = f"shard {name}: " if len(service.shard_services()) > 1 else ""
            raise Problem(422, f"{where}{exc}", type="validation-error") from None
        results[name] = result.as_dict()
    if len(results) == 1:
        return next(iter(results.values()))
    return audit.combine(results)
