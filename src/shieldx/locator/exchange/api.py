"""HTTP route of the RFC 8693 token exchange (when locator.oidc is enabled)."""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends, Request

from shieldx.locator.exchange.oidc import JwksUnavailable
from shieldx.locator.exchange.schemas import ExchangeResponse
from shieldx.locator.exchange.service import ExchangeError, TokenExchange, parse_request
from shieldx.locator.tokens.api import Issuer, State, fresh
from shieldx.locator.tokens.forms import read_params
from shieldx.platform.app import provided_instance
from shieldx.platform.errors import Problem

router = APIRouter(tags=["locator"])


async def enabled_exchange(request: Request) -> TokenExchange | None:
    """The component's token exchange, or None when locator.oidc is disabled."""
    try:
        return provided_instance(request, TokenExchange)
    except LookupError:
        return None


Exchange = Annotated[TokenExchange | None, Depends(enabled_exchange)]


@router.post("/token/exchange", summary="Exchange an external ID token (RFC 8693)")
async def token_exchange(
    request: Request, caller: Issuer, exchange: Exchange, freshness: State
) -> ExchangeResponse:
    """Verify an external ID token and issue a locator access token for its subject."""
    if exchange is None:
        raise Problem(
            404, "OIDC token exchange is disabled (set locator.oidc.enabled)", type="not-found"
        )
    params = await read_params(request)
    tenant = caller.tenant_for(params.get("tenant") or None)
    await fresh(freshness)
    try:
        parsed = parse_request(params)
        issued = await anyio.to_thread.run_sync(
            lambda: exchange.exchange(parsed, client_id=caller.key_id, tenant=tenant)
        )
    except ExchangeError as exc:
        raise Problem(400, exc.description, type="token-exchange", error=exc.error) from None
    except JwksUnavailable as exc:
        raise Problem(503, str(exc), type="oidc-unavailable") from None
    return ExchangeResponse(
        access_token=issued.access_token, expires_in=issued.expires_in, scope=issued.scope
    )
