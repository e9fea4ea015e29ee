"""Lean JSON POST routes: served without FastAPI's per-request dependency solving.

`lean_json_post` registers a handler twice: a plain Starlette route that serves it, and after
it a FastAPI route that only documents it in OpenAPI (never reached: the first full match
wins). Under load FastAPI's dependency solving cost more than a ledger write itself; the lean
route does the same checks by hand, once, here: an authenticated principal with one of the
route's roles, a JSON content type (else 415), and the body validated by the route's pydantic
model (else the same 422 a FastAPI route answers).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from starlette.routing import BaseRoute

from shieldx.platform.app import requires
from shieldx.platform.auth import Principal, require_role
from shieldx.platform.errors import Problem
from shieldx.platform.roles import Role

M = TypeVar("M", bound=BaseModel)
# handler(request, body, principal): the body already validated, the principal already admitted.
LeanHandler = Callable[[Request, Any, Principal], Awaitable[Response]]


def json_media(request: Request) -> None:
    """Refuse (415) a body whose Content-Type is not JSON; a missing one counts as JSON."""
    media = request.headers.get("content-type", "application/json")
    media = media.split(";", 1)[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise Problem(
            415,
            f"expected a JSON body (Content-Type: application/json), got {media!r}",
            type="unsupported-media-type",
        )


def principal_of(request: Request, roles: Sequence[Role]) -> Principal:
    """The authenticated caller of REQUEST if it holds one of ROLES (401 or 403 if not)."""
    principal = request.scope.get("state", {}).get("principal")
    if not isinstance(principal, Principal):
        raise Problem(401, "this route needs an API key", type="unauthenticated")
    require_role(principal, roles)
    return principal


async def parse_body(request: Request, model: type[M]) -> M:
    """REQUEST's JSON body validated by MODEL; errors answered as FastAPI answers them (422)."""
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        raise RequestValidationError(errors) from None


def lean_json_post(
    router: APIRouter,
    path: str,
    handler: LeanHandler,
    *,
    model: type[BaseModel],
    roles: Sequence[Role],
    documented: Sequence[inspect.Parameter] = (),
    **route: Any,
) -> None:
    """Serve POST PATH on ROUTER with HANDLER through a lean route, and document it in OpenAPI
    with a FastAPI twin taking MODEL as body, a caller with one of ROLES, and the DOCUMENTED
    extra parameters (e.g. a header the handler reads itself); ROUTE: add_api_route options."""
    full = (router.prefix or "") + path
    role_set = tuple(roles)
    route_ref: list[BaseRoute] = []

    async def endpoint(request: Request) -> Response:
        """The lean route: auth, role, JSON, model validation, then the handler."""
        request.scope["route"] = route_ref[0]  # the access log and metrics label by template
        principal = principal_of(request, role_set)
        json_media(request)
        body = await parse_body(request, model)
        return await handler(request, body, principal)

    endpoint.__name__ = handler.__name__
    router.add_route(full, endpoint, methods=["POST"], include_in_schema=False)
    route_ref.append(router.routes[-1])

    async def twin(request: Request, body: Any, caller: Principal, **_: Any) -> Response:
        """The OpenAPI twin of the lean route (same handler)."""
        return await handler(request, body, caller)

    caller_type = Annotated[Principal, Depends(requires(*role_set))]
    twin.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request),
            inspect.Parameter("body", inspect.Parameter.KEYWORD_ONLY, annotation=model),
            inspect.Parameter("caller", inspect.Parameter.KEYWORD_ONLY, annotation=caller_type),
            *documented,
        ],
        return_annotation=Response,
    )
    twin.__name__ = handler.__name__
    twin.__doc__ = handler.__doc__
    router.add_api_route(path, twin, methods=["POST"], **route)
