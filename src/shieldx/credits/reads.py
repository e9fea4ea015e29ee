"""GET routes (balance with time travel, history, alerts, report) and the audit verification."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import anyio.to_thread
from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse, Response

from shieldx.credits import audit, queries
from shieldx.credits.ids import now_us
from shieldx.credits.reports import BUCKET_US, report_csv, usage_report
from shieldx.credits.responses import (
    AlertPage,
    BalanceResult,
    HistoryPage,
    Report,
    VerifyResult,
)
from shieldx.credits.schemas import (
    ACCOUNT_PATTERN,
    VerifyRequest,
)
from shieldx.credits.service import CreditsService
from shieldx.platform.app import Caller, reads, requires
from shieldx.platform.auth import Principal
from shieldx.platform.errors import Problem
from shieldx.platform.roles import Role
from shieldx.platform.schemas import UtcTime

Auditor = Annotated[Principal, Depends(requires(Role.ADMIN, Role.AUDITOR))]
TenantQuery = Annotated[
    str | None, Query(max_length=128, description="Tenant (unscoped keys must name one).")
]
AsOf = Annotated[
    str | None,
    Query(
        max_length=64,
        description="A global position (integer) or an RFC 3339 timestamp: the state back then.",
    ),
]
AccountQuery = Annotated[str | None, Query(pattern=ACCOUNT_PATTERN, description="The account.")]


def parse_as_of(value: str | None) -> tuple[int | None, int | None]:
    """(position, microseconds) from ?as_of=: an integer position or an RFC 3339 time."""
    if value is None:
        return None, None
    if value.isdigit():
        return int(value), None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Problem(
            422,
            "as_of must be a position (integer) or an RFC 3339 timestamp",
            type="validation-error",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return None, int(moment.timestamp() * 1_000_000)


def read_router(service: CreditsService) -> APIRouter:
    """The read side: read models, time travel from events, and chain verification."""
    router = APIRouter(prefix="/credits", tags=["credits"])
    db = service.ctx.db
    settings = service.settings
    max_page = settings.max_page_size

    async def caught_up() -> None:
        """Wait until history and usage include the last commit (read your writes)."""
        # Read your writes: history and usage are projected just after each commit.
        await service.projections.wait_for(
            service.writer.head_position, within=settings.read_your_writes_timeout.total_seconds()
        )

    @router.get("/balance/{account_id}", response_model=BalanceResult, summary="Balance")
    async def balance(
        account_id: str, caller: Caller, tenant: TenantQuery = None, as_of: AsOf = None
    ) -> Response | dict[str, object]:
        """Balance now (read model) or as of a position or time (from events)."""
        scope = caller.tenant_for(tenant)
        position, at_us = parse_as_of(as_of)
        if position is None and at_us is None:
            row = await anyio.to_thread.run_sync(queries.balance, db, scope, account_id)
        else:
            found = await anyio.to_thread.run_sync(
                lambda: queries.account_as_of(
                    service.store, scope, account_id, position=position, at_us=at_us
                )
            )
            row = None
            if found is not None:
                account, last = found
                row = {
                    "account_id": account_id,
                    "tenant": scope,
                    "balance": account.balance,
                    "held": account.held,
                    "available": account.available,
                    "version": account.version,
                    "as_of_position": last,
                }
        if row is None:
            raise Problem(
                404, f"no account {account_id!r} in this tenant", type="account-not-found"
            )
        return row

    @router.get("/history", response_model=HistoryPage, summary="Transactions, newest first")
    async def history(
        caller: Caller,
        account_id: AccountQuery = None,
        tenant: TenantQuery = None,
        limit: Annotated[int, Query(ge=1, description="Page size.")] = 50,
        cursor: Annotated[str | None, Query(max_length=64, description="From next_cursor.")] = None,
        type: Annotated[
            str | None, Query(max_length=200, description="Event types, comma separated.")
        ] = None,
        as_of: AsOf = None,
    ) -> dict[str, object]:
        """Money events, newest first, with a keyset cursor."""
        scope = caller.tenant_for(tenant)
        position, at_us = parse_as_of(as_of)
        try:
            after = queries.decode_cursor(cursor) if cursor else None
        except ValueError:
            raise Problem(
                422,
                "cursor is not one this API issued: pass next_cursor as given",
                type="invalid-cursor",
            ) from None
        await caught_up()
        return await anyio.to_thread.run_sync(
            lambda: queries.history_page(
                service.store,
                scope,
                account_id=account_id,
                limit=min(limit, max_page),
                cursor=after,
                types=type.split(",") if type else None,
                as_of=position,
                as_of_us=at_us,
            )
        )

    @router.get("/alerts", response_model=AlertPage, summary="Low-balance alerts")
    async def alerts(
        caller: Caller,
        account_id: AccountQuery = None,
        tenant: TenantQuery = None,
        limit: Annotated[int, Query(ge=1, description="Page size.")] = 50,
        cursor: Annotated[str | None, Query(max_length=64, description="From next_cursor.")] = None,
    ) -> dict[str, object]:
        """Low-balance alerts, newest first."""
        scope = caller.tenant_for(tenant)
        return await anyio.to_thread.run_sync(
            lambda: queries.alert_page(
                db, scope, account_id=account_id, limit=min(limit, max_page), cursor=cursor
            )
        )

    @router.get(
        "/report",
        response_model=Report,
        summary="Usage per hour or day",
        responses={
            200: {
                "content": {
                    "text/csv": {"schema": {"type": "string"}},  # with format=csv
                }
            }
        },
    )
    async def report(
        caller: Caller,
        account_id: AccountQuery = None,
        tenant: TenantQuery = None,
        from_: Annotated[
            UtcTime | None, Query(alias="from", description="Start (RFC 3339).")
        ] = None,
        to: Annotated[
            UtcTime | None, Query(description="End (RFC 3339), exclusive (default now).")
        ] = None,
        granularity: Annotated[Literal["hour", "day"], Query(description="Bucket size.")] = "hour",
        format: Annotated[Literal["json", "csv"], Query(description="json or csv.")] = "json",
    ) -> Response | dict[str, object]:
        """Purchased, consumed by reason, held, released and expired per hour or day."""
        scope = caller.tenant_for(tenant)
        end = _us(to) if to is not None else now_us() + 1
        span = timedelta(days=1 if granularity == "hour" else 31)
        start = _us(from_) if from_ is not None else end - int(span.total_seconds() * 1_000_000)
        if end <= start:
            raise Problem(422, "'to' must be after 'from'", type="validation-error")
        if (end - start) // BUCKET_US[granularity] > 10_000:
            raise Problem(422, "at most 10000 buckets per report", type="validation-error")
        await caught_up()
        result = await anyio.to_thread.run_sync(
            lambda: usage_report(
                db,
                scope,
                account_id=account_id,
                start_us=start,
                end_us=end,
                granularity=granularity,
            )
        )
        if format == "csv":
            return PlainTextResponse(report_csv(result), media_type="text/csv")
        return result

    @router.post("/audit/verify", response_model=VerifyResult, summary="Verify the hash chain")
    @reads
    async def verify(body: VerifyRequest, caller: Auditor) -> dict[str, object]:
        """Recompute the hash chain and name the first bad position."""
        if caller.tenant is not None:
            raise Problem(
                403,
                "the hash chain spans every tenant: verify it with an unscoped admin or auditor key",
                type="forbidden",
            )
        result = await anyio.to_thread.run_sync(
            lambda: audit.verify(
                service.store, from_position=body.from_position, to_position=body.to_position
            )
        )
        return result.as_dict()

    return router


def _us(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1_000_000)
