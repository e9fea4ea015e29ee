"""Routes: A/B tests and their results, deployments and their operation, gateways."""

from __future__ import annotations

from typing import Any, Literal

import orjson
from fastapi import APIRouter
from fastapi.responses import Response

from shieldx.config import Settings
from shieldx.shadow.access import Gateway, Reader, TenantQuery, Writer
from shieldx.shadow.experiments.stats import GaussianPrior
from shieldx.shadow.rollouts.domain import Policy, Strategy
from shieldx.shadow.rollouts.gates import Gates
from shieldx.shadow.rollouts.service import DeployRequest
from shieldx.shadow.schemas import DeployCreate, ExperimentCreate, ExperimentEnd, GatewayIn
from shieldx.shadow.service import ShadowService

Operation = Literal["promote", "abort", "pause", "resume"]


def deploy_request(
    body: DeployCreate, settings: Settings, *, tenant: str, by: str
) -> DeployRequest:
    """A deploy body with the deployment.* defaults filled in."""
    defaults = settings.deployment
    given = body.gates.model_fields_set
    gates = Gates(
        max_false_positive_rate=body.gates.max_false_positive_rate,
        max_block_rate_increase=body.gates.max_block_rate_increase,
        max_error_rate=body.gates.max_error_rate
        if "max_error_rate" in given
        else defaults.rollback_threshold,
        min_samples_per_stage=defaults.min_samples_per_stage
        if body.gates.min_samples_per_stage is None
        else body.gates.min_samples_per_stage,
        confidence=body.gates.confidence or defaults.gate_confidence,
    )
    policy = Policy(
        gates=gates,
        auto_rollback=defaults.auto_rollback if body.auto_rollback is None else body.auto_rollback,
        max_inconclusive_s=(body.max_inconclusive or defaults.max_inconclusive).total_seconds(),
        on_inconclusive=body.on_inconclusive or defaults.on_inconclusive,
    )
    duration = body.stage_duration if body.stage_duration is not None else defaults.canary_duration
    window = (
        body.post_promotion_window
        if body.post_promotion_window is not None
        else defaults.traffic_shift_duration
    )
    return DeployRequest(
        tenant=tenant,
        created_by=by,
        strategy=body.strategy or Strategy(defaults.strategy),
        stages=tuple(body.stages or defaults.canary_percentage),
        stage_duration_s=duration.total_seconds(),
        post_promotion_window_s=window.total_seconds(),
        policy=policy,
        sticky_key=body.sticky_key or settings.shadow.sticky_key,
        test_id=body.test_id,
        ruleset=body.ruleset,
    )


def rollouts_router(service: ShadowService, settings: Settings) -> APIRouter:
    """A/B test, deployment and gateway routes."""
    router = APIRouter(tags=["rollouts"])

    @router.post("/shadow/evaluate", status_code=201, summary="Start an A/B test of two rule sets")
    async def create_test(
        body: ExperimentCreate, caller: Writer, tenant: TenantQuery = None
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

    @router.get("/shadow/tests", summary="List A/B tests")
    async def list_tests(
        caller: Reader, tenant: TenantQuery = None, status: str | None = None
    ) -> Any:
        return await service.tests(caller.tenant_for(tenant), status)

    @router.get("/shadow/tests/{test_id}", summary="One A/B test's definition and state")
    async def get_test(test_id: str, caller: Reader) -> Any:
        return await service.test(test_id, caller.can_see)

    @router.get(
        "/shadow/results/{test_id}",
        summary="A/B results: variants, verdict diff, blast radius, Bayesian comparison",
    )
    async def results(test_id: str, caller: Reader) -> Any:
        return await service.results(test_id, caller.can_see)

    @router.post(
        "/shadow/tests/{test_id}/decide",
        summary="Decide a test (winner named, or recommended by the statistics)",
    )
    async def decide_test(test_id: str, caller: Writer, body: ExperimentEnd | None = None) -> Any:
        end = body or ExperimentEnd()
        return await service.end_test(
            test_id, caller.can_see, winner=end.winner, reason=end.reason, stop=False
        )

    @router.post("/shadow/tests/{test_id}/stop", summary="Stop a test without a winner")
    async def stop_test(test_id: str, caller: Writer, body: ExperimentEnd | None = None) -> Any:
        end = body or ExperimentEnd()
        return await service.end_test(
            test_id, caller.can_see, winner=None, reason=end.reason, stop=True
        )

    @router.post(
        "/shadow/deploy", status_code=201, summary="Deploy a rule set version (or a test's winner)"
    )
    async def deploy(body: DeployCreate, caller: Writer, tenant: TenantQuery = None) -> Any:
        request = deploy_request(body, settings, tenant=caller.tenant_for(tenant), by=caller.key_id)
        doc = await service.deploy(request)
        return {"deployment_id": doc["id"], **doc}

    @router.get("/shadow/deployments", summary="List deployments")
    async def list_deployments(caller: Reader, tenant: TenantQuery = None) -> Any:
        return await service.deployment_list(caller.tenant_for(tenant))

    @router.get(
        "/shadow/deployments/{deployment_id}",
        summary="A deployment with its stage history and gate figures",
    )
    async def get_deployment(deployment_id: str, caller: Reader) -> Any:
        return await service.deployment(deployment_id, caller.can_see)

    @router.post(
        "/shadow/deployments/{deployment_id}/{operation}",
        summary="promote (?full=true to finish), abort, pause or resume",
    )
    async def operate(
        deployment_id: str, operation: Operation, caller: Writer, full: bool = False
    ) -> Any:
        return await service.operate(
            deployment_id, operation, caller.can_see, by=caller.key_id, full=full
        )

    @router.post(
        "/shadow/gateways",
        status_code=201,
        summary="Register a gateway for rolling deployments",
        responses={200: {"description": "The gateway was already registered"}},
    )
    async def register(body: GatewayIn, caller: Gateway, tenant: TenantQuery = None) -> Any:
        owner = caller.tenant_for(tenant)
        created = await service.register_gateway(owner, body.gateway_id, body.description)
        doc = {"gateway_id": body.gateway_id, "tenant": owner, "created": created}
        if not created:
            return Response(orjson.dumps(doc), status_code=200, media_type="application/json")
        return doc

    @router.get("/shadow/gateways", summary="List registered gateways")
    async def list_gateways(caller: Reader, tenant: TenantQuery = None) -> Any:
        return await service.gateway_list(caller.tenant_for(tenant))

    @router.delete("/shadow/gateways/{gateway_id}", status_code=204, summary="Deregister a gateway")
    async def remove_gateway(
        gateway_id: str, caller: Writer, tenant: TenantQuery = None
    ) -> Response:
        await service.remove_gateway(caller.tenant_for(tenant), gateway_id)
        return Response(status_code=204)

    return router
