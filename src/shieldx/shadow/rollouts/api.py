"""Routes: deployments and their operation, and the gateways of rolling deployments.

Route functions carry no docstrings: FastAPI would publish them as descriptions; each
route's summary says what it does.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends
from fastapi.responses import Response

from shieldx.config import Settings
from shieldx.platform.app import provided
from shieldx.shadow.access import Gateway, Reader, TenantQuery, Writer
from shieldx.shadow.rollouts.domain import Policy, Strategy
from shieldx.shadow.rollouts.gates import Gates
from shieldx.shadow.rollouts.gateways import Heartbeat
from shieldx.shadow.rollouts.schemas import (
    DeployCreate,
    DeploymentCreated,
    DeploymentOut,
    DeploymentReport,
    EnvironmentOut,
    GatewayIn,
    GatewayOut,
    GatewayRegistered,
    HeartbeatIn,
    HeartbeatOut,
)
from shieldx.shadow.rollouts.service import DeployRequest
from shieldx.shadow.service import ShadowService

Service = Annotated[ShadowService, Depends(provided(ShadowService))]
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
        switch=body.switch,
    )


router = APIRouter(tags=["rollouts"])


@router.post(
    "/shadow/deploy",
    status_code=201,
    response_model=DeploymentCreated,
    summary="Deploy a rule set version (or a test's winner)",
)
async def deploy(
    body: DeployCreate, caller: Writer, service: Service, tenant: TenantQuery = None
) -> Any:
    request = deploy_request(
        body, service.settings, tenant=caller.tenant_for(tenant), by=caller.key_id
    )
    doc = await service.deploy(request)
    return {"deployment_id": doc["id"], **doc}


@router.get("/shadow/deployments", response_model=list[DeploymentOut], summary="List deployments")
async def list_deployments(caller: Reader, service: Service, tenant: TenantQuery = None) -> Any:
    return await service.deployment_list(caller.tenant_for(tenant))


@router.get(
    "/shadow/deployments/{deployment_id}",
    response_model=DeploymentReport,
    summary="A deployment with its stage history and gate figures",
)
async def get_deployment(deployment_id: str, caller: Reader, service: Service) -> Any:
    return await service.deployment(deployment_id, caller.can_see)


@router.post(
    "/shadow/deployments/{deployment_id}/{operation}",
    response_model=DeploymentOut,
    summary="promote (?full=true to finish), abort, pause or resume",
)
async def operate(
    deployment_id: str, operation: Operation, caller: Writer, service: Service, full: bool = False
) -> Any:
    return await service.operate(
        deployment_id, operation, caller.can_see, by=caller.key_id, full=full
    )


@router.post(
    "/shadow/gateways",
    status_code=201,
    response_model=GatewayRegistered,
    summary="Register a gateway for rolling deployments",
    responses={
        200: {"description": "The gateway was already registered", "model": GatewayRegistered}
    },
)
async def register(
    body: GatewayIn, caller: Gateway, service: Service, tenant: TenantQuery = None
) -> Any:
    owner = caller.tenant_for(tenant)
    created = await service.register_gateway(owner, body.gateway_id, body.description)
    doc = {"gateway_id": body.gateway_id, "tenant": owner, "created": created}
    if not created:
        return Response(orjson.dumps(doc), status_code=200, media_type="application/json")
    return doc


@router.post(
    "/shadow/gateways/{gateway_id}/heartbeat",
    response_model=HeartbeatOut,
    summary="A gateway's heartbeat: its decision error rate and p95 latency (instance gates)",
)
async def heartbeat(
    gateway_id: str,
    body: HeartbeatIn,
    caller: Gateway,
    service: Service,
    tenant: TenantQuery = None,
) -> Any:
    beat = Heartbeat(
        tenant=caller.tenant_for(tenant),
        gateway_id=gateway_id,
        at=service.clock(),
        requests=body.requests,
        error_rate=body.error_rate,
        latency_p95_ms=body.latency_p95_ms,
    )
    return await service.heartbeat(beat)


@router.get(
    "/shadow/environments",
    response_model=list[EnvironmentOut],
    summary="The tenant's environments (blue, green, canary, stable): version and share",
)
async def environments(caller: Reader, service: Service, tenant: TenantQuery = None) -> Any:
    return await service.environments(caller.tenant_for(tenant))


@router.get("/shadow/gateways", response_model=list[GatewayOut], summary="List registered gateways")
async def list_gateways(caller: Reader, service: Service, tenant: TenantQuery = None) -> Any:
    return await service.gateway_list(caller.tenant_for(tenant))


@router.delete("/shadow/gateways/{gateway_id}", status_code=204, summary="Deregister a gateway")
async def remove_gateway(
    gateway_id: str, caller: Writer, service: Service, tenant: TenantQuery = None
) -> Response:
    await service.remove_gateway(caller.tenant_for(tenant), gateway_id)
    return Response(status_code=204)
