"""Routes: A/B tests of two rule sets, their results, and deciding or stopping them.

Route functions carry no docstrings: FastAPI would publish them as descriptions; each
route's summary says what it does.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from shieldx.platform.app import provided
from shieldx.shadow.access import Reader, TenantQuery, Writer
from shieldx.shadow.experiments.schemas import (
    ExperimentCreate,
    ExperimentCreated,
    ExperimentEnd,
    ExperimentOut,
    ResultsOut,
)
from shieldx.shadow.experiments.stats import GaussianPrior
from shieldx.shadow.service import ShadowService

Service = Annotated[ShadowService, Depends(provided(ShadowService))]

router = APIRouter(tags=["rollouts"])


@router.post(
    "/shadow/evaluate",
    status_code=201,
    response_model=ExperimentCreated,
    summary="Start an A/B test of two rule sets",
)
async def create_test(
    body: ExperimentCreate, caller: Writer, service: Service, tenant: TenantQuery = None
) -> Any:
    prior = body.prior
    doc = await service.create_test(
        tenant=caller.tenant_for(tenant),
        name=body.name,
        control=body.control,
        candidate=body.candidate,
        split=body.split,
        metric=body.metric,
        prior=GaussianPrior()
        if prior is None
        else GaussianPrior(prior.mean, prior.variance, prior.proper, prior.scale),
        min_samples=body.min_samples,
        sticky_key=body.sticky_key,
        created_by=caller.key_id,
        seed=body.seed,
    )
    return {"test_id": doc["id"], **doc}


@router.get("/shadow/tests", response_model=list[ExperimentOut], summary="List A/B tests")
async def list_tests(
    caller: Reader, service: Service, tenant: TenantQuery = None, status: str | None = None
) -> Any:
    return await service.tests(caller.tenant_for(tenant), status)


@router.get(
    "/shadow/tests/{test_id}",
    response_model=ExperimentOut,
    summary="One A/B test's definition and state",
)
async def get_test(test_id: str, caller: Reader, service: Service) -> Any:
    return await service.test(test_id, caller.can_see)


@router.get(
    "/shadow/results/{test_id}",
    response_model=ResultsOut,
    summary="A/B results: variants, verdict diff, blast radius, Bayesian comparison",
)
async def results(test_id: str, caller: Reader, service: Service) -> Any:
    return await service.results(test_id, caller.can_see)


@router.post(
    "/shadow/tests/{test_id}/decide",
    response_model=ExperimentOut,
    summary="Decide a test (winner named, or recommended by the statistics)",
)
async def decide_test(
    test_id: str, caller: Writer, service: Service, body: ExperimentEnd | None = None
) -> Any:
    end = body or ExperimentEnd()
    return await service.end_test(
        test_id, caller.can_see, winner=end.winner, reason=end.reason, stop=False
    )


@router.post(
    "/shadow/tests/{test_id}/stop",
    response_model=ExperimentOut,
    summary="Stop a test without a winner",
)
async def stop_test(
    test_id: str, caller: Writer, service: Service, body: ExperimentEnd | None = None
) -> Any:
    end = body or ExperimentEnd()
    return await service.end_test(
        test_id, caller.can_see, winner=None, reason=end.reason, stop=True
    )
