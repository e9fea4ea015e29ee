"""How ledger refusals and writer trouble become problem+json answers."""

from __future__ import annotations

from shieldx.credits.errors import (
    AccountExists,
    AccountNotFound,
    AmountExceedsHold,
    BalanceOverflow,
    HoldNotActive,
    HoldNotFound,
    InsufficientCredits,
    InvalidAmount,
    InvalidCommand,
    LedgerError,
)
from shieldx.credits.operations import BatchRefused
from shieldx.credits.submissions import ApplyFailed, IdempotencyMismatch, WriterUnavailable
from shieldx.platform.errors import Problem

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
