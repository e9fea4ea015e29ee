"""GET routes of the read side: balance (now, or with time travel from events), history, alerts and
usage reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import anyio.to_thread
from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse, Response

from shieldx.credits.ledger.ids import now_us
from shieldx.credits.ledger.schemas import ACCOUNT_PATTERN
from shieldx.credits.ledger.service import CreditsService
from shieldx.credits.projections import queries
from shieldx.credits.projections.reports import BUCKET_US, merge_reports, report_csv, usage_report
from shieldx.credits.projections.schemas import AlertPage, BalanceResult, HistoryPage, Report
from shieldx.platform import parsing
from shieldx.platform.app import Caller, provided
from shieldx.platform.errors import Problem
from shieldx.platform.schemas import UtcTime

Ledger = Annotated[CreditsService, Depends(provided(CreditsService))]
TenantQuery = Annotated[
    str | None,
    Query(
        max_length=128,
        pattern=r"^[^\x00-\x1f\x7f]+$",  # no NUL or control characters
        description="Tenant (unscoped keys must name one).",
    ),
]
AsOf = Annotated[
    str | None,
    Query(
        max_length=64,
        description="A global position (integer) or an RFC 3339 timestamp: the state back then.",
    ),
]
Cursor = Annotated[
    str | None,
    # Long enough for a cursor over many shards (one position per shard).
    Query(max_length=4096, pattern=r"^[A-Za-z0-9_-]+$", description="From next_cursor."),
]
AccountQuery = Annotated[str | None, Query(pattern=ACCOUNT_PATTERN, description="The account.")]


def parse_as_of(value: str | None) -> tuple[int | None, int | None]:
    """(position, microseconds) from ?as_of=: an integer position or an RFC 3339 time."""
    if value is None:
        return None, None
    try:
        if value[:1] in "-0123456789" and value[4:5] != "-":
            return parsing.parse_position(value), None
        return None, parsing.timestamp_us(parsing.parse_timestamp(value))
    except ValueError as exc:
        raise Problem(
            422,
            f"as_of must be a position (ASCII integer 0..2^63-1) or an RFC 3339 timestamp: {exc}",
            type="validation-error",
            parameter="as_of",
        ) from None


router = APIRouter(prefix="/credits", tags=["credits"])


async def _caught_up(service: CreditsService) -> None:
    """Wait until history and usage include the last commit (read your writes)."""
    # Read your writes: history and usage are projected just after each commit.
    await service.projections.wait_for(
        service.writer.head_position,
        within=service.settings.read_your_writes_timeout.total_seconds(),
    )


@router.get("/balance/{account_id}", response_model=BalanceResult, summary="Balance")
async def balance(
    account_id: str, caller: Caller, service: Ledger, tenant: TenantQuery = None, as_of: AsOf = None
) -> Response | dict[str, object]:
    """Balance now (read model) or as of a position or time (from events)."""
    scope = caller.tenant_for(tenant)
    position, at_us = parse_as_of(as_of)
    service = service.shard_for(scope, account_id)
    if position is None and at_us is None:
        row = await anyio.to_thread.run_sync(queries.balance, service.ctx.db, scope, account_id)
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
        raise Problem(404, f"no account {account_id!r} in this tenant", type="account-not-found")
    return row


@router.get("/history", response_model=HistoryPage, summary="Transactions, newest first")
async def history(
    caller: Caller,
    service: Ledger,
    account_id: AccountQuery = None,
    tenant: TenantQuery = None,
    limit: Annotated[int, Query(ge=1, description="Page size.")] = 50,
    cursor: Cursor = None,
    type: Annotated[
        str | None,
        Query(
            max_length=200,
            pattern=r"^[a-z_,]+$",
            description="Event types, comma separated.",
        ),
    ] = None,
    as_of: AsOf = None,
) -> dict[str, object]:
    """Money events, newest first, with a keyset cursor."""
    scope = caller.tenant_for(tenant)
    position, at_us = parse_as_of(as_of)
    shards = service.shard_services()
    if account_id is not None or len(shards) == 1:
        try:
            after = queries.decode_cursor(cursor) if cursor else None
        except ValueError:
            raise _bad_cursor() from None
        shard = service.shard_for(scope, account_id) if account_id is not None else service
        await _caught_up(shard)
        return await anyio.to_thread.run_sync(
            lambda: _history(shard, scope, account_id, limit, after, type, position, at_us)
        )
    return await _merged_history(service, scope, limit, cursor, type, position, at_us)


def _bad_cursor() -> Problem:
    return Problem(
        422, "cursor is not one this API issued: pass next_cursor as given", type="invalid-cursor"
    )


def _history(
    service: CreditsService,
    scope: str,
    account_id: str | None,
    limit: int,
    cursor: int | None,
    types: str | None,
    position: int | None,
    at_us: int | None,
) -> dict[str, object]:
    return queries.history_page(
        service.store,
        scope,
        account_id=account_id,
        limit=min(limit, service.settings.max_page_size),
        cursor=cursor,
        types=types.split(",") if types else None,
        as_of=position,
        as_of_us=at_us,
    )


async def _merged_history(
    service: CreditsService,
    scope: str,
    limit: int,
    cursor: str | None,
    types: str | None,
    position: int | None,
    at_us: int | None,
) -> dict[str, object]:
    """A tenant's history over every shard, newest first (each shard's page, merged)."""
    shards = service.shard_services()
    if position is not None:
        raise Problem(
            422,
            "as_of as a position names a place in one shard's event store: with several "
            "shards, pass an RFC 3339 time for the whole tenant, or an account_id",
            type="validation-error",
            parameter="as_of",
        )
    try:
        cursors = (
            queries.decode_merged_cursor(cursor, list(shards)) if cursor else dict.fromkeys(shards)
        )
    except ValueError:
        raise _bad_cursor() from None
    pages: dict[str, dict[str, object]] = {}
    for name, shard in shards.items():
        at = cursors[name]
        if at == queries.EXHAUSTED:
            pages[name] = {"items": [], "next_cursor": None}
            continue
        await _caught_up(shard)
        pages[name] = await anyio.to_thread.run_sync(
            lambda s=shard, c=at: _history(s, scope, None, limit, c, types, None, at_us)  # type: ignore[misc]
        )
    return queries.merge_history(pages, cursors, min(limit, service.settings.max_page_size))


@router.get("/alerts", response_model=AlertPage, summary="Low-balance alerts")
async def alerts(
    caller: Caller,
    service: Ledger,
    account_id: AccountQuery = None,
    tenant: TenantQuery = None,
    limit: Annotated[int, Query(ge=1, description="Page size.")] = 50,
    cursor: Cursor = None,
) -> dict[str, object]:
    """Low-balance alerts, newest first."""
    scope = caller.tenant_for(tenant)
    shards = (
        [service.shard_for(scope, account_id)]
        if account_id is not None
        else list(service.shard_services().values())
    )
    size = min(limit, service.settings.max_page_size)
    pages = [
        await anyio.to_thread.run_sync(
            lambda s=shard: queries.alert_page(  # type: ignore[misc]
                s.ctx.db, scope, account_id=account_id, limit=size, cursor=cursor
            )
        )
        for shard in shards
    ]
    return pages[0] if len(pages) == 1 else queries.merge_alerts(pages, size)


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
    service: Ledger,
    account_id: AccountQuery = None,
    tenant: TenantQuery = None,
    from_: Annotated[UtcTime | None, Query(alias="from", description="Start (RFC 3339).")] = None,
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
    shards = (
        [service.shard_for(scope, account_id)]
        if account_id is not None
        else list(service.shard_services().values())
    )
    reports = []
    for shard in shards:
        await _caught_up(shard)
        reports.append(
            await anyio.to_thread.run_sync(
                lambda s=shard: usage_report(  # type: ignore[misc]
                    s.ctx.db,
                    scope,
                    account_id=account_id,
                    start_us=start,
                    end_us=end,
                    granularity=granularity,
                )
            )
        )
    result = reports[0] if len(reports) == 1 else merge_reports(reports)
    if format == "csv":
        return PlainTextResponse(report_csv(result), media_type="text/csv")
    return result


def _us(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1_000_000)
