"""Routes: the enforcement point (/shadow/decide), rule sets and the mirror feed (/shadow/traffic)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.routing import Route

from shieldx.platform.app import current_principal, provided, provided_instance
from shieldx.platform.auth import require_role
from shieldx.platform.errors import Problem
from shieldx.shadow.access import GATEWAY_ROLES, Gateway, Reader, TenantQuery, Writer
from shieldx.shadow.rules.domain import Rule
from shieldx.shadow.rules.ingest import parse_batch, parse_label, parse_record
from shieldx.shadow.rules.schemas import (
    CheckOut,
    DecisionOut,
    RuleSetCreate,
    RuleSetCreated,
    RuleSetDetail,
    RuleSetSummary,
    TrafficAccepted,
)
from shieldx.shadow.service import ShadowService

Service = Annotated[ShadowService, Depends(provided(ShadowService))]

# Free-form on purpose: a record is raw request data, taken field by field by the lean
# parser (rules/records.py), not a RequestModel (which would refuse control characters).
_RECORD_SCHEMA = {
    "type": "object",
    "description": "A request record (method, path, query, headers, ip, country, asn, "
    "user_agent, body_size, tenant) with an optional label: malicious | benign",
}


def _json_body(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Problem(
            400, f"the request body is not valid JSON: {exc}", type="malformed-json"
        ) from None


def _json(doc: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(doc), status_code=status, media_type="application/json")


# The enforcement point, alone in its router so that it is matched first.
#
# This is the hot path: a plain Starlette route (FastAPI's dependency solving and
# request-handler layers cost ~10 % of the decision rate) that reads the caller the
# platform middleware authenticated. The FastAPI route with the same path after it is
# never reached; it only documents the endpoint in the OpenAPI schema.
decide_router = APIRouter(tags=["decide"])


async def decide(request: Request) -> Response:
    """POST /shadow/decide: the enforced action for one request, with shadow decisions."""
    caller = await current_principal(request)
    require_role(caller, GATEWAY_ROLES)
    params = request.query_params
    tenant, gateway = params.get("tenant"), params.get("gateway")
    if len(tenant or "") > 128 or len(gateway or "") > 128:
        raise Problem(422, "tenant and gateway are at most 128 characters", type="validation-error")
    item = parse_record(_json_body(await request.body()), "the record")
    owner = caller.tenant_for(tenant or item.record["tenant"] or None)
    service = provided_instance(request, ShadowService)
    return _json(
        await service.decide_request(owner, item.record, label=item.label, gateway=gateway)
    )


decide_router.routes.append(Route("/shadow/decide", decide, methods=["POST"]))
decide_router.add_api_route(
    "/shadow/decide",
    decide,
    methods=["POST"],
    response_model=DecisionOut,
    summary="The enforcement point: the enforced action for one request, with shadow decisions",
    description="Query: tenant (unscoped keys), gateway (the calling gateway's id, for rolling "
    "deployments). Roles: service, operator, admin.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _RECORD_SCHEMA}},
        }
    },
)


# Rule sets, the check of one record, and the mirror feed.
router = APIRouter(tags=["rules"])


@router.post(
    "/shadow/rulesets",
    status_code=201,
    response_model=RuleSetCreated,
    summary="Create a rule set (a new version)",
)
async def create_ruleset(
    body: RuleSetCreate, caller: Writer, service: Service, tenant: TenantQuery = None
) -> Any:
    owner = caller.tenant_for(tenant)
    rules = [Rule(r.id, r.expression, r.action, r.priority, r.description) for r in body.rules]  # type: ignore[arg-type]
    return await service.rulesets.create(
        tenant=owner,
        name=body.name,
        rules=rules,
        on_error=body.on_error,
        created_by=caller.key_id,
    )


@router.get(
    "/shadow/rulesets",
    response_model=list[RuleSetSummary],
    summary="List rule sets with their latest versions",
)
async def list_rulesets(caller: Reader, service: Service, tenant: TenantQuery = None) -> Any:
    return await service.rulesets.for_tenant(caller.tenant_for(tenant))


@router.get(
    "/shadow/rulesets/{ref}",
    response_model=RuleSetDetail,
    summary="One rule set: {name} (latest) or {name}@{version}",
)
async def get_ruleset(
    ref: str, caller: Reader, service: Service, tenant: TenantQuery = None
) -> Any:
    return await service.rulesets.get(caller.tenant_for(tenant), ref)


@router.post(
    "/shadow/rulesets/{ref}/check",
    response_model=CheckOut,
    summary="Evaluate one request record by hand: the decision and every matching rule",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _RECORD_SCHEMA}},
        }
    },
)
async def check(
    ref: str, request: Request, caller: Reader, service: Service, tenant: TenantQuery = None
) -> Any:
    item = parse_record(_json_body(await request.body()), "the record")
    return await service.rulesets.check(caller.tenant_for(tenant), ref, item.record)


@router.post(
    "/shadow/traffic",
    status_code=202,
    response_model=TrafficAccepted,
    summary="Mirror feed: a batch of records (JSON array or JSON lines) for the running A/B tests",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "array", "items": _RECORD_SCHEMA}},
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        }
    },
)
async def traffic(
    request: Request,
    caller: Gateway,
    service: Service,
    tenant: TenantQuery = None,
    label: str | None = None,
) -> Response:
    owner = caller.tenant_for(tenant)
    items = parse_batch(
        await request.body(),
        request.headers.get("content-type", ""),
        max_records=service.settings.shadow.max_batch_records,
        default_label=parse_label(label, "label"),
    )
    return _json(await service.ingest(owner, items), 202)
