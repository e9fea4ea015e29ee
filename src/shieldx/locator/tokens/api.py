"""HTTP routes of token issuance, introspection, revocation and discovery: thin shells."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
import orjson
import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from shieldx.locator.settings import LocatorSettings
from shieldx.locator.state.refresh import Freshness
from shieldx.locator.tokens.domain import INACTIVE_BODY, InvalidTokenRequest, discovery_document
from shieldx.locator.tokens.forms import read_params, required
from shieldx.locator.tokens.schemas import IssueRequest, IssueResponse
from shieldx.locator.tokens.service import LocatorService, NoSigningKey
from shieldx.platform.app import current_principal, provided, provided_instance, reads, requires
from shieldx.platform.auth import Principal
from shieldx.platform.errors import Problem
from shieldx.platform.honeytokens import HoneytokenRegistry
from shieldx.platform.roles import Role

log = structlog.get_logger("shieldx.locator")
JSON = "application/json"
Issuer = Annotated[Principal, Depends(requires(Role.ADMIN, Role.SERVICE))]
# Revocation writes: every role but the read-only auditor (an incident responder may be an operator).
Revoker = Annotated[Principal, Depends(requires(Role.ADMIN, Role.OPERATOR, Role.SERVICE))]
Service = Annotated[LocatorService, Depends(provided(LocatorService))]
State = Annotated[Freshness, Depends(provided(Freshness))]
Settings = Annotated[LocatorSettings, Depends(provided(LocatorSettings))]

router = APIRouter(tags=["locator"])


async def fresh(freshness: Freshness) -> None:
    """Bring the keys and revocations up to date, or answer 503 (shared by every locator route)."""
    try:
        await freshness.ensure_fresh()
    except Exception as exc:
        # Fail closed: without the revocation state no token may be called active.
        log.error("locator.refresh_failed", error_type=type(exc).__name__)
        raise Problem(
            503,
            "the token state cannot be read from the database; retry shortly",
            type="locator-unavailable",
        ) from exc


def cache_control(settings: LocatorSettings) -> str:
    """The Cache-Control of the public documents (JWKS, discovery)."""
    return f"public, max-age={int(settings.jwks_max_age.total_seconds())}"


def form_body(*fields: str) -> dict[str, Any]:
    """OpenAPI for a form (or JSON) body whose first field is required."""
    # No parameter, name or value, may hold a control character (forms.read_params: 400).
    text = {"type": "string", "pattern": r"^[^\x00-\x1f\x7f]*$"}
    properties: dict[str, Any] = {f: dict(text) for f in fields}
    properties[fields[0]]["minLength"] = 1  # required *and* non-empty (RFC 6749: else 400)
    # Other parameters are ignored (RFC 6749 section 3.1), but each appears once, as a string.
    schema = {
        "type": "object",
        "properties": properties,
        "required": [fields[0]],
        "propertyNames": text,
        "additionalProperties": text,
    }
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {"schema": schema},
                "application/json": {"schema": schema},
            },
        }
    }


@router.post("/issue", summary="Issue an Ed25519-signed access token (RFC 9068)")
async def issue(
    body: IssueRequest, caller: Issuer, service: Service, freshness: State
) -> IssueResponse:
    """Sign an access token for the caller's tenant."""
    tenant = caller.tenant_for(body.tenant)
    await fresh(freshness)
    try:
        issued = service.issue(
            subject=body.subject,
            audience=body.audience,
            scopes=body.scopes,
            client_id=body.client_id or caller.key_id,
            tenant=tenant,
            ttl_seconds=body.ttl_seconds,
            claims=body.claims,
        )
    except InvalidTokenRequest as exc:
        raise Problem(422, str(exc), type="invalid-token-request") from None
    except NoSigningKey as exc:
        raise Problem(503, str(exc), type="no-signing-key") from None
    return IssueResponse(
        access_token=issued.access_token,
        expires_in=issued.expires_in,
        scope=issued.scope,
        jti=issued.jti,
        kid=issued.kid,
    )


# The hot path (resource servers call it on every request they serve) is a plain
# Starlette route: no dependency solving, exit stack or response model per call, which
# measured ~10% more introspections/s over HTTP. The middleware has already
# authenticated the caller; the body is parsed by hand for both content types anyway.
@reads
async def introspect(request: Request) -> Response:
    """RFC 7662 introspection: the token's claims, or exactly {"active": false}."""
    caller = await current_principal(request)
    params = await read_params(request)
    token = required(params, "token")
    service = provided_instance(request, LocatorService)
    await fresh(provided_instance(request, Freshness))
    body = service.introspect(
        token, audience=params.get("audience") or None, tenant_scope=caller.tenant
    )
    if body is INACTIVE_BODY:
        # A refused token may be one the decoys planted: the registry checks it off the
        # request path, and the answer stays exactly {"active": false}.
        client = request.client
        provided_instance(request, HoneytokenRegistry).report(
            token, location="locator.introspect", source=client.host if client else ""
        )
    return Response(body, media_type=JSON)


router.add_route("/introspect", introspect, methods=["POST"])


@router.post(
    "/revoke",
    summary="Token revocation (RFC 7009): 200 alike for valid, unknown or revoked tokens",
    response_class=Response,  # an empty 200: documented without a body
    openapi_extra=form_body("token", "token_type_hint"),
)
async def revoke(request: Request, caller: Revoker, service: Service, freshness: State) -> Response:
    """Revoke a token this locator issued (to the caller's tenant); unknown tokens alike."""
    params = await read_params(request)
    token = required(params, "token")
    await fresh(freshness)
    verified = service.revocable(token, tenant_scope=caller.tenant)
    if verified is not None:
        await anyio.to_thread.run_sync(service.persist_revocation, verified)
        service.revoked.add(verified.jti, verified.exp)
    return Response(status_code=200)


@router.get("/.well-known/openid-configuration", summary="Discovery metadata")
async def discovery(service: Service, settings: Settings) -> Response:
    """Authorization-server metadata (public)."""
    # The exchange endpoint is advertised exactly when the component built one.
    doc = discovery_document(service.policy.issuer, token_exchange=settings.oidc.enabled)
    return Response(
        orjson.dumps(doc), media_type=JSON, headers={"Cache-Control": cache_control(settings)}
    )
