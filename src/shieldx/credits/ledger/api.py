"""The ledger's command routes (POST, every one idempotent by key, every answer the committed
one): parse, resolve the tenant, call the service, shape the answer; and how ledger refusals
and writer trouble become problem+json answers.

The routes are lean (shieldx.platform.lean): served without FastAPI's dependency solving, which
cost more than the ledger work itself under load, and documented in OpenAPI by a twin.
"""

from __future__ import annotations

import inspect
import time
import typing
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response

from shieldx.credits.alerts.webhooks import check_target
from shieldx.credits.ledger.commands import (
    CancelHold,
    CommitHold,
    Consume,
    Purchase,
    Reserve,
    duration_us,
    timestamp_us,
)
from shieldx.credits.ledger.errors import (
    AccountExists,
    AccountNotFound,
    AmountExceedsHold,
    BalanceOverflow,
    CrossShardBatch,
    ExpiryInPast,
    HoldNotActive,
    HoldNotFound,
    InsufficientCredits,
    InvalidAmount,
    InvalidCommand,
    LedgerError,
)
from shieldx.credits.ledger.ids import new_id
from shieldx.credits.ledger.schemas import (
    AccountCreate,
    AccountResult,
    BatchCancel,
    BatchCommit,
    BatchConsume,
    BatchPurchase,
    BatchRequest,
    BatchResult,
    CancelRequest,
    CancelResult,
    CommitRequest,
    CommitResult,
    ConsumeRequest,
    ConsumeResult,
    PurchaseRequest,
    PurchaseResult,
    ReserveRequest,
    ReserveResult,
    ThresholdRequest,
    ThresholdResult,
    TransferRequest,
    TransferResult,
)
from shieldx.credits.ledger.service import CreditsService, Idempotency, Payment, fingerprint
from shieldx.credits.metrics import CreditsMetrics
from shieldx.credits.writer.submissions import (
    Accepted,
    ApplyFailed,
    IdempotencyMismatch,
    WriterUnavailable,
)
from shieldx.credits.writer.work_units import BatchRefused
from shieldx.platform.app import provided_instance
from shieldx.platform.auth import Principal, require_role
from shieldx.platform.errors import Problem
from shieldx.platform.lean import LeanHandler, lean_json_post
from shieldx.platform.roles import Role

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
WRITE_ROLES = (Role.ADMIN, Role.OPERATOR, Role.SERVICE)
# Buying credits mints money: metering (service) keys consume, reserve and commit, never buy.
PURCHASE_ROLES = (Role.ADMIN, Role.OPERATOR)
# Documented only: the lean route reads the header itself (a missing one is a 400, see _idem).
_IDEM_PARAM = inspect.Parameter("key", inspect.Parameter.KEYWORD_ONLY, annotation=IdemHeader)

router = APIRouter(prefix="/credits", tags=["credits"], responses=ERRORS)


def _post(
    path: str, *, purchase: bool = False, **route: Any
) -> Callable[[LeanHandler], LeanHandler]:
    """Decorator: serve POST PATH with a lean route (PURCHASE: only the roles that may buy
    credits); a refusal raised while the commands are built becomes its problem document."""

    def register(handler: LeanHandler) -> LeanHandler:
        """Register HANDLER on the module's router."""

        async def refusing(request: Request, body: Any, caller: Principal) -> Response:
            try:
                return await handler(request, body, caller)
            except LedgerError as exc:  # a limit refused while the commands were built
                raise problem_for(exc) from exc

        refusing.__name__ = handler.__name__
        refusing.__doc__ = handler.__doc__
        lean_json_post(
            router,
            path,
            refusing,
            model=typing.get_type_hints(handler)["body"],
            roles=PURCHASE_ROLES if purchase else WRITE_ROLES,
            documented=[_IDEM_PARAM],
            **route,
        )
        return handler

    return register


def _idem(request: Request, op: str, tenant: str, body: Any) -> Idempotency:
    key = request.headers.get("idempotency-key")
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


async def _run(request: Request, op: str, call: Awaitable[Accepted]) -> Response:
    """Await the service call; count it; turn a refusal into its problem document."""
    metrics = provided_instance(request, CreditsMetrics)
    started = time.perf_counter()
    try:
        accepted = await call
    except Exception as exc:
        problem = problem_for(exc)
        result = "refused" if problem.status < 500 else "unavailable"
        metrics.observe(op, result, time.perf_counter() - started)
        raise problem from exc
    metrics.observe(op, "replayed" if accepted.replayed else "ok", time.perf_counter() - started)
    headers = {"Idempotent-Replayed": "true"} if accepted.replayed else None
    return Response(
        accepted.body, status_code=accepted.status, media_type="application/json", headers=headers
    )


@_post("/accounts", status_code=201, response_model=AccountResult, summary="Open an account")
async def open_account(request: Request, body: AccountCreate, caller: Principal) -> Response:
    """Open an account explicitly (409 account-exists if it is there)."""
    service = provided_instance(request, CreditsService)
    tenant = caller.tenant_for(body.tenant)
    idem = _idem(request, "open", tenant, body)
    call = service.open_account(
        tenant=tenant, account_id=body.account_id, metadata=body.metadata, idem=idem
    )
    return await _run(request, "open", call)


@_post(
    "/purchase",
    purchase=True,
    status_code=201,
    response_model=PurchaseResult,
    summary="Buy credits",
)
async def purchase(request: Request, body: PurchaseRequest, caller: Principal) -> Response:
    """Add a grant; the first purchase opens the account; payment details are sealed."""
    service = provided_instance(request, CreditsService)
    tenant = caller.tenant_for(body.tenant)
    idem = _idem(request, "purchase", tenant, body)
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
    return await _run(request, "purchase", call)


@_post("/consume", response_model=ConsumeResult, summary="Use credits")
async def consume(request: Request, body: ConsumeRequest, caller: Principal) -> Response:
    """Use credits now; refused whole (409 insufficient-credits) if available is short."""
    service = provided_instance(request, CreditsService)
    tenant = caller.tenant_for(body.tenant)
    idem = _idem(request, "consume", tenant, body)
    call = service.consume(
        tenant=tenant,
        account_id=body.account_id,
        amount=body.amount,
        reason=body.reason,
        idem=idem,
    )
    return await _run(request, "consume", call)


@_post("/reserve", status_code=201, response_model=ReserveResult, summary="Hold credits")
async def reserve(request: Request, body: ReserveRequest, caller: Principal) -> Response:
    """Hold credits until committed, cancelled or ttl_seconds pass."""
    service = provided_instance(request, CreditsService)
    tenant = caller.tenant_for(body.tenant)
    idem = _idem(request, "reserve", tenant, body)
    call = service.reserve(
        tenant=tenant,
        account_id=body.account_id,
        amount=body.amount,
        ttl_seconds=body.ttl_seconds,
        reason=body.reason,
        idem=idem,
    )
    return await _run(request, "reserve", call)


@_post("/commit", response_model=CommitResult, summary="Commit a hold")
async def commit(request: Request, body: CommitRequest, caller: Principal) -> Response:
    """Post all or part of a hold; the rest is released."""
    service = provided_instance(request, CreditsService)
    tenant = _hold_tenant(caller, body.tenant)
    idem = _idem(request, "commit", tenant or "", body)
    call = service.commit(
        tenant=tenant, reservation_id=body.reservation_id, amount=body.amount, idem=idem
    )
    return await _run(request, "commit", call)


@_post("/cancel", response_model=CancelResult, summary="Cancel a hold")
async def cancel(request: Request, body: CancelRequest, caller: Principal) -> Response:
    """Release a hold."""
    service = provided_instance(request, CreditsService)
    tenant = _hold_tenant(caller, body.tenant)
    idem = _idem(request, "cancel", tenant or "", body)
    return await _run(
        request,
        "cancel",
        service.cancel(tenant=tenant, reservation_id=body.reservation_id, idem=idem),
    )


@_post("/threshold", response_model=ThresholdResult, summary="Set the low-balance alert")
async def threshold(request: Request, body: ThresholdRequest, caller: Principal) -> Response:
    """Alert once per crossing below the threshold; a webhook gets a signing secret."""
    service = provided_instance(request, CreditsService)
    tenant = caller.tenant_for(body.tenant)
    if body.webhook_url is not None:
        check_target(
            body.webhook_url, allow_private=service.settings.webhooks.allow_private_targets
        )
    idem = _idem(request, "threshold", tenant, body)
    call = service.set_threshold(
        tenant=tenant,
        account_id=body.account_id,
        threshold=body.threshold,
        webhook_url=body.webhook_url,
        idem=idem,
    )
    return await _run(request, "threshold", call)


@_post("/batch", response_model=BatchResult, summary="Linked operations, all or none")
async def batch(request: Request, body: BatchRequest, caller: Principal) -> Response:
    """Several operations committed together: all or none when atomic."""
    service = provided_instance(request, CreditsService)
    tenant = caller.tenant_for(body.tenant)
    max_ops = service.settings.max_batch_operations
    if len(body.operations) > max_ops:
        raise Problem(
            422, f"a batch holds at most {max_ops} operations (credits.max_batch_operations)",
            type="validation-error",
        )  # fmt: skip
    if any(isinstance(op, BatchPurchase) for op in body.operations):
        require_role(caller, PURCHASE_ROLES)  # a batch buys only if its key may buy
    idem = _idem(request, "batch", tenant, body)
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
    return await _run(request, "batch", call)


@_post("/transfer", response_model=TransferResult, summary="Move credits between accounts")
async def transfer(request: Request, body: TransferRequest, caller: Principal) -> Response:
    """Move credits from one account to another of the same tenant: both or neither (across
    shards too, by two-phase commit); 409 insufficient-credits changes nothing."""
    service = provided_instance(request, CreditsService)
    tenant = caller.tenant_for(body.tenant)
    idem = _idem(request, "transfer", tenant, body)
    call = service.transfer(
        tenant=tenant,
        from_account=body.from_account,
        to_account=body.to_account,
        amount=body.amount,
        reason=body.reason,
        idem=idem,
    )
    return await _run(request, "transfer", call)


def _hold_tenant(caller: Principal, named: str | None) -> str | None:
    """A scoped key's tenant (naming another is 403); an unscoped key's choice, or None for
    "the hold's own tenant" (a hold id identifies its account)."""
    if caller.tenant is not None:
        return caller.tenant_for(named)
    return named


def _us(value: datetime | None) -> int | None:
    return timestamp_us(value, "expires_at")


# ------------------------------------------------------------------ problems
STATUS: dict[type[LedgerError], int] = {
    InsufficientCredits: 409,
    AccountExists: 409,
    HoldNotActive: 409,
    AccountNotFound: 404,
    HoldNotFound: 404,
    AmountExceedsHold: 422,
    InvalidAmount: 422,
    InvalidCommand: 422,
    BalanceOverflow: 422,
    CrossShardBatch: 422,
    ExpiryInPast: 422,
}


def problem_for(exc: BaseException) -> Problem:
    """The problem a route raises for EXC (anything unexpected stays a 500)."""
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, BatchRefused):
        inner = problem_for(exc.error)
        return Problem(
            inner.status,
            str(exc),
            type=exc.error.slug,
            failed_index=exc.index,
            **inner.extensions,
        )
    if isinstance(exc, InsufficientCredits):
        return Problem(
            409,
            f"insufficient credits: {exc.requested} requested, {exc.available} available;"
            " nothing was recorded",
            type=exc.slug,
            available=exc.available,
            requested=exc.requested,
        )
    if isinstance(exc, HoldNotActive):
        return Problem(
            409,
            f"reservation {exc.hold_id} is already {exc.state}: a reservation resolves once",
            type=exc.slug,
            state=exc.state,
        )
    if isinstance(exc, LedgerError):
        return Problem(STATUS.get(type(exc), 409), str(exc), type=exc.slug)
    if isinstance(exc, IdempotencyMismatch):
        return Problem(
            409,
            "this Idempotency-Key was already used with a different request; use a new key",
            type="idempotency-key-reused",
        )
    if isinstance(exc, ApplyFailed):
        return Problem(
            500,
            f"{exc} (a bug, logged as credits.apply_failed); other requests are unaffected",
            type="internal-error",
        )
    if isinstance(exc, WriterUnavailable):
        return Problem(
            503,
            f"{exc}; retry with the same Idempotency-Key to get the definitive answer",
            type="ledger-unavailable",
            headers={"Retry-After": "1"},
        )
    raise exc
