"""Response models of the read routes: balances, history, alerts, usage reports."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from shieldx.credits.ledger.schemas import Balances


class BalanceResult(Balances):
    """GET /credits/balance/{account_id}."""

    account_id: str = Field(description="The account.")
    tenant: str = Field(description="The account's tenant.")
    held: int = Field(description="Credits on hold.")
    version: int = Field(description="Stream version the figures include.")
    as_of_position: int = Field(description="Global position of the last event included.")


class HistoryItem(BaseModel):
    """One money event."""

    position: int = Field(description="Global position in the event store.")
    account_id: str = Field(description="The account.")
    type: str = Field(description="Event type, e.g. credits_consumed.")
    amount: int = Field(description="The event's amount.")
    balance_after: int = Field(description="Balance after the event.")
    available_after: int = Field(description="Available after the event.")
    at: datetime = Field(description="When it was recorded.")
    reason: str = Field(description="Reason given, or ''.")
    transaction_id: str | None = Field(description="Transaction id, if any.")


class HistoryPage(BaseModel):
    """GET /credits/history: newest first."""

    items: list[HistoryItem] = Field(description="Entries, newest first.")
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page.")


class Alert(BaseModel):
    """A stored low-balance alert."""

    alert_id: str = Field(description="Alert id.")
    account_id: str = Field(description="The account.")
    threshold: int = Field(description="The threshold crossed.")
    available: int = Field(description="Available right after the crossing.")
    position: int = Field(description="Position of the crossing event.")
    at: datetime = Field(description="When.")
    webhook_url: str | None = Field(description="Webhook, if any.")
    delivery: str = Field(description="none, pending, delivered or failed.")
    attempts: int = Field(description="Delivery attempts so far.")
    last_error: str | None = Field(description="Last delivery error.")
    delivered_at: datetime | None = Field(description="When the webhook acknowledged it.")


class AlertPage(BaseModel):
    """GET /credits/alerts: newest first."""

    items: list[Alert] = Field(description="Alerts, newest first.")
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page.")


class ReportFigures(BaseModel):
    """Amounts in one bucket (or in total)."""

    purchased: int = Field(description="Credits purchased.")
    consumed: int = Field(description="Credits consumed (direct and committed holds).")
    held: int = Field(description="Credits put on hold.")
    released: int = Field(description="Held credits released (cancel, expiry, partial commit).")
    expired: int = Field(description="Credits that expired with their grant.")
    consumed_by_reason: dict[str, int] = Field(description="Consumption per reason.")
    purchased_by_type: dict[str, int] = Field(description="Purchases per grant type.")


class ReportBucket(ReportFigures):
    """One hour or day."""

    start: datetime = Field(description="Start of the bucket (UTC).")


class Report(BaseModel):
    """GET /credits/report."""

    tenant: str = Field(description="Tenant.")
    account_id: str | None = Field(description="Account, or null for the whole tenant.")
    granularity: Literal["hour", "day"] = Field(description="Bucket size.")
    from_: datetime = Field(alias="from", description="Start (aligned to the bucket).")
    to: datetime = Field(description="End (exclusive).")
    buckets: list[ReportBucket] = Field(description="Buckets with activity, oldest first.")
    total: ReportFigures = Field(description="Sum over the buckets.")
