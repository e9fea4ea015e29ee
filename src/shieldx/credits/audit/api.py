"""The audit route: verify the hash chain (and, deep, the derived rows) over a range."""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends, Request

from shieldx.credits.audit import verify as audit
from shieldx.credits.audit.schemas import VerifyRequest, VerifyResult
from shieldx.credits.ledger.service import CreditsService
from shieldx.credits.metrics import CreditsMetrics
from shieldx.platform.app import context_of, provided, reads, requires
from shieldx.platform.auth import Principal
from shieldx.platform.errors import Problem
from shieldx.platform.roles import Role

Auditor = Annotated[Principal, Depends(requires(Role.ADMIN, Role.AUDITOR))]
Ledger = Annotated[CreditsService, Depends(provided(CreditsService))]
Metrics = Annotated[CreditsMetrics, Depends(provided(CreditsMetrics))]

router = APIRouter(prefix="/credits", tags=["credits"])


@router.post("/audit/verify", response_model=VerifyResult, summary="Verify the hash chain")
@reads
async def verify(
    body: VerifyRequest, caller: Auditor, service: Ledger, metrics: Metrics, request: Request
) -> dict[str, object]:
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
    answer = next(iter(results.values())) if len(results) == 1 else audit.combine(results)
    ok = bool(answer["ok"])
    metrics.audit_verifications.labels("ok" if ok else "broken").inc()
    whole_chain = body.from_position in (None, 1) and body.to_position is None
    if not ok or whole_chain:  # a clean part of the chain does not clear a break
        metrics.audit_chain_broken.set(0 if ok else 1)
    if not ok:
        # A broken chain is a security event (tampering or corruption): on the bus for the SIEM.
        context_of(request).bus.publish(
            "credits.audit.chain_broken",
            {"key_id": caller.key_id, **{k: v for k, v in answer.items() if k != "mismatches"}},
        )
    return answer
