"""HTTP routes of the credits service: parse, resolve the tenant, call the service, shape the answer."""

from __future__ import annotations

import inspect
import time
import typing
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from prometheus_client import CollectorRegistry
from pydantic import ValidationError
from starlette.routing import BaseRoute

from shieldx.credits.commands import (
    CancelHold,
    CommitHold,
    Consume,
    Purchase,
    Reserve,
    duration_us,
    timestamp_us,
)
from shieldx.credits.errors import LedgerError
from shieldx.credits.ids import new_id, now_us
from shieldx.credits.metrics import CreditsMetrics
from shieldx.credits.problems import problem_for
from shieldx.credits.reads import read_router
from shieldx.credits.responses import (
    AccountResult,
    BatchResult,
    CancelResult,
    CommitResult,
    ConsumeResult,
    PurchaseResult,
    ReserveResult,
    ThresholdResult,
)
from shieldx.credits.schemas import (
    AccountCreate,
    BatchCancel,
    BatchCommit,
    BatchConsume,
    BatchPurchase,
    BatchRequest,
    CancelRequest,
    CommitRequest,
    ConsumeRequest,
    PurchaseRequest,
    ReserveRequest,
    ThresholdRequest,
)
from shieldx.credits.service import CreditsService, Idempotency, Payment, fingerprint
from shieldx.credits.submissions import Accepted
from shieldx.credits.sweeper import Sweeper
from shieldx.credits.webhooks import WebhookDelivery, check_target
from shieldx.platform.app import Component, requires
from shieldx.platform.auth import Principal, require_role
from shieldx.platform.context import PlatformContext
from shieldx.platform.errors import Problem
from shieldx.platform.roles import Role

Writer = Annotated[Principal, Depends(requires(Role.ADMIN, Role.OPERATOR, Role.SERVICE))]  # docs
IdemHeader = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        description="Required on every mutating request: 1-255 printable ASCII characters "
        "(an sf-string, as in the IETF Idempotency-Key draft).",
        min_length=1,
        max_length=255,
        pattern=r"^[\x20-\x7e]+$",
    ),
]
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Missing Idempotency-Key or malformed JSON (problem+json)."},
    404: {"description": "Unknown account or reservation in this tenant."},
    409: {"description": "insufficient-credits, reservation-not-active, idempotency-key-reused."},
    422: {"description": "Invalid input: amounts must be integers in 1..2^63-1."},
    503: {"description": "The ledger could not commit; retry with the same Idempotency-Key."},
}


def _idem(key: str | None, op: str, tenant: str, body: Any) -> Idempotency:
    if key is None:
        raise Problem(
            400,
            "this request needs an Idempotency-Key header (a unique value per operation; "
            "resend the same value to retry safely)",
            type="idempotency-key-missing",
        )
    if not 0 < len(key) <= 255 or not (key.isascii() and key.isprintable()):
        raise Problem(
            400, "Idempotency-Key must be 1-255 printable ASCII characters", type="bad-request"
        )
    payload = body.model_dump(mode="json", exclude={"tenant"}, exclude_none=True)
    return Idempotency(key, fingerprint(op, tenant, payload))


def _answer(accepted: Accepted) -> Response:
    headers = {"Idempotent-Replayed": "true"} if accepted.replayed else None
    return Response(
        accepted.body, status_code=accepted.status, media_type="application/json", headers=headers
    )


Handler = Callable[[Any, Principal, str | None], Awaitable[Response]]
WRITE_ROLES = (Role.ADMIN, Role.OPERATOR, Role.SERVICE)


def _poster(router: APIRouter) -> Callable[..., Callable[[Handler], Handler]]:
    """Register a POST handler twice: a lean Starlette route that serves it, and after it the
    FastAPI route that documents it in OpenAPI (never reached: the first full match wins).

    The lean route skips FastAPI's per-request dependency solving, which cost more than the
    ledger work itself under load; it does the same checks: authenticated principal, role,
    JSON content type, and the body validated by the same pydantic model.
    """

    def post(path: str, **route: Any) -> Callable[[Handler], Handler]:
        """Decorator: serve PATH with the lean route and document it with a FastAPI route."""
        full = "/credits" + path

        def register(handler: Handler) -> Handler:
            """Register HANDLER under both routes."""
            model = typing.get_type_hints(handler)["body"]
            route_ref: list[BaseRoute] = []

            async def endpoint(request: Request) -> Response:
                """The lean route: auth, role, JSON, model validation, then the handler."""
                scope = request.scope
                scope["route"] = route_ref[0]  # the access log and metrics label by template
                principal = scope.get("state", {}).get("principal")
                if not isinstance(principal, Principal):
                    raise Problem(401, "this route needs an API key", type="unauthenticated")
                require_role(principal, WRITE_ROLES)
                media = request.headers.get("content-type", "application/json")
                media = media.split(";", 1)[0].strip().lower()
                if media != "application/json" and not media.endswith("+json"):
                    raise Problem(
                        415,
                        f"expected a JSON body (Content-Type: application/json), got {media!r}",
                        type="unsupported-media-type",
                    )
                try:
                    body = model.model_validate_json(await request.body())
                except ValidationError as exc:
                    errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
                    raise RequestValidationError(errors) from None
                try:
                    return await handler(body, principal, request.headers.get("idempotency-key"))
                except LedgerError as exc:  # a limit refused while the commands were built
                    raise problem_for(exc) from exc

            router.add_route(full, endpoint, methods=["POST"], include_in_schema=False)
            route_ref.append(router.routes[-1])

            async def documented(body: Any, caller: Principal, key: str | None = None) -> Response:
                """The OpenAPI twin of the lean route (same handler)."""
                return await handler(body, caller, key)

            documented.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
                [
                    inspect.Parameter("body", inspect.Parameter.KEYWORD_ONLY, annotation=model),
                    inspect.Parameter("caller", inspect.Parameter.KEYWORD_ONLY, annotation=Writer),
                    inspect.Parameter("key", inspect.Parameter.KEYWORD_ONLY, annotation=IdemHeader),
                ],
                return_annotation=Response,
            )
            documented.__name__ = handler.__name__
            documented.__doc__ = handler.__doc__
            router.add_api_route(full, documented, methods=["POST"], **route)
            return handler

        return register

    return post


def command_router(service: CreditsService, metrics: CreditsMetrics) -> APIRouter:
    """POST routes: every one idempotent by key, every answer the committed one."""
    router = APIRouter(tags=["credits"], responses=ERRORS)
    post = _poster(router)
    max_ops = service.settings.max_batch_operations

    async def run(op: str, call: Awaitable[Accepted]) -> Response:
        """Await the service call; count it; turn a refusal into its problem document."""
        started = time.perf_counter()
        try:
            accepted = await call
        except Exception as exc:
            problem = problem_for(exc)
            result = "refused" if problem.status < 500 else "unavailable"
            metrics.observe(op, result, time.perf_counter() - started)
            raise problem from exc
        metrics.observe(
            op, "replayed" if accepted.replayed else "ok", time.perf_counter() - started
        )
        return _answer(accepted)

    @post("/accounts", status_code=201, response_model=AccountResult, summary="Open an account")
    async def open_account(body: AccountCreate, caller: Writer, key: str | None = None) -> Response:
        """Open an account explicitly (409 account-exists if it is there)."""
        tenant = caller.tenant_for(body.tenant)
        idem = _idem(key, "open", tenant, body)
        call = service.open_account(
            tenant=tenant, account_id=body.account_id, metadata=body.metadata, idem=idem
        )
        return await run("open", call)

    @post("/purchase", status_code=201, response_model=PurchaseResult, summary="Buy credits")
    async def purchase(body: PurchaseRequest, caller: Writer, key: str | None = None) -> Response:
        """Add a grant; the first purchase opens the account; payment details are sealed."""
        tenant = caller.tenant_for(body.tenant)
        idem = _idem(key, "purchase", tenant, body)
        payment = Payment(**body.payment.model_dump()) if body.payment is not None else None
        call = service.purchase(
            tenant=tenant,
            account_id=body.account_id,
            amount=body.amount,
            grant_type=body.grant_type,
            priority=body.priority,
            expires_at=_us(body.expires_at),
            payment=payment,
            idem=idem,
        )
        return await run("purchase", call)

    @post("/consume", response_model=ConsumeResult, summary="Use credits")
    async def consume(body: ConsumeRequest, caller: Writer, key: str | None = None) -> Response:
        """Use credits now; refused whole (409 insufficient-credits) if available is short."""
        tenant = caller.tenant_for(body.tenant)
        idem = _idem(key, "consume", tenant, body)
        call = service.consume(
            tenant=tenant,
            account_id=body.account_id,
            amount=body.amount,
            reason=body.reason,
            idem=idem,
        )
        return await run("consume", call)

    @post("/reserve", status_code=201, response_model=ReserveResult, summary="Hold credits")
    async def reserve(body: ReserveRequest, caller: Writer, key: str | None = None) -> Response:
        """Hold credits until committed, cancelled or ttl_seconds pass."""
        tenant = caller.tenant_for(body.tenant)
        idem = _idem(key, "reserve", tenant, body)
        call = service.reserve(
            tenant=tenant,
            account_id=body.account_id,
            amount=body.amount,
            ttl_seconds=body.ttl_seconds,
            reason=body.reason,
            idem=idem,
        )
        return await run("reserve", call)

    @post("/commit", response_model=CommitResult, summary="Commit a hold")
    async def commit(body: CommitRequest, caller: Writer, key: str | None = None) -> Response:
        """Post all or part of a hold; the rest is released."""
        tenant = _hold_tenant(caller, body.tenant)
        idem = _idem(key, "commit", tenant or "", body)
        call = service.commit(
            tenant=tenant, reservation_id=body.reservation_id, amount=body.amount, idem=idem
        )
        return await run("commit", call)

    @post("/cancel", response_model=CancelResult, summary="Cancel a hold")
    async def cancel(body: CancelRequest, caller: Writer, key: str | None = None) -> Response:
        """Release a hold."""
        tenant = _hold_tenant(caller, body.tenant)
        idem = _idem(key, "cancel", tenant or "", body)
        return await run(
            "cancel", service.cancel(tenant=tenant, reservation_id=body.reservation_id, idem=idem)
        )

    @post("/threshold", response_model=ThresholdResult, summary="Set the low-balance alert")
    async def threshold(body: ThresholdRequest, caller: Writer, key: str | None = None) -> Response:
        """Alert once per crossing below the threshold; a webhook gets a signing secret."""
        tenant = caller.tenant_for(body.tenant)
        if body.webhook_url is not None:
            check_target(
                body.webhook_url, allow_private=service.settings.webhooks.allow_private_targets
            )
        idem = _idem(key, "threshold", tenant, body)
        call = service.set_threshold(
            tenant=tenant,
            account_id=body.account_id,
            threshold=body.threshold,
            webhook_url=body.webhook_url,
            idem=idem,
        )
        return await run("threshold", call)

    @post("/batch", response_model=BatchResult, summary="Linked operations, all or none")
    async def batch(body: BatchRequest, caller: Writer, key: str | None = None) -> Response:
        """Several operations committed together: all or none when atomic."""
        tenant = caller.tenant_for(body.tenant)
        if len(body.operations) > max_ops:
            raise Problem(
                422, f"a batch holds at most {max_ops} operations (credits.max_batch_operations)",
                type="validation-error",
            )  # fmt: skip
        idem = _idem(key, "batch", tenant, body)
        operations: list[Any] = []
        for op in body.operations:
            if isinstance(op, BatchPurchase):
                command: Any = Purchase(
                    op.amount,
                    op.grant_type,
                    op.priority,
                    _us(op.expires_at),
                    new_id("gr"),
                    new_id("tx"),
                )
                operations.append(((tenant, op.account_id), command))
            elif isinstance(op, BatchConsume):
                operations.append(
                    ((tenant, op.account_id), Consume(op.amount, op.reason, new_id("tx")))
                )
            elif isinstance(op, BatchCommit):
                operations.append(
                    (op.reservation_id, CommitHold(op.reservation_id, op.amount, new_id("tx")))
                )
            elif isinstance(op, BatchCancel):
                operations.append((op.reservation_id, CancelHold(op.reservation_id, new_id("tx"))))
            else:
                ttl = duration_us(op.ttl_seconds, "ttl_seconds")
                command = Reserve(op.amount, ttl, op.reason, new_id("rsv"), new_id("tx"))
                operations.append(((tenant, op.account_id), command))
        call = service.batch(operations=operations, atomic=body.atomic, tenant=tenant, idem=idem)
        return await run("batch", call)

    return router


def _hold_tenant(caller: Principal, named: str | None) -> str | None:
    """A scoped key's tenant (naming another is 403); an unscoped key's choice, or None for
    "the hold's own tenant" (a hold id identifies its account)."""
    if caller.tenant is not None:
        return caller.tenant_for(named)
    return named


def _us(value: datetime | None) -> int | None:
    return timestamp_us(value, "expires_at")


def build_component(
    ctx: PlatformContext,
    registry: CollectorRegistry,
    *,
    clock: Callable[[], int] = now_us,
) -> Component:
    """The credits component with an explicit clock (tests move time by hand)."""
    settings = ctx.settings.credits
    metrics = CreditsMetrics(registry, gauge_tenants=settings.balance_gauge_tenants)
    service = CreditsService(ctx, clock=clock)
    sweeper = Sweeper(service, metrics=metrics, clock=clock)
    delivery = WebhookDelivery(
        service,
        metrics=metrics,
        clock=clock,
        poll_interval=min(1.0, settings.webhooks.backoff.total_seconds()),
    )
    service.writer.stats.observers.append(sweeper.observe_batch)
    service.writer.supervisor.observers.append(metrics.writer_state)

    async def start() -> None:
        """Start the writer, projections, sweeper and webhook delivery."""
        await service.start()
        await sweeper.start()
        await delivery.start()

    async def stop() -> None:
        """Stop them, draining the writer."""
        await sweeper.stop()
        await delivery.stop()
        await service.stop()

    return Component(
        routers=[command_router(service, metrics), read_router(service)],
        on_startup=[start],
        on_shutdown=[stop],
        readiness=[service.writer.unready],
        description="ShieldX credits: an event-sourced, idempotent, hash-chained credit ledger.",
        extra={"service": service, "sweeper": sweeper, "webhooks": delivery},
    )


def component(ctx: PlatformContext, registry: CollectorRegistry) -> Component:
    """Build the credits service's routes and background work."""
    return build_component(ctx, registry)
