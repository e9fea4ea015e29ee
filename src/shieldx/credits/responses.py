"""Response models of the credits API (every field documented in OpenAPI)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class Balances(BaseModel):
    """The account after the operation."""

    balance: int = Field(description="Credits owned (held or not).")
    available: int = Field(description="balance - held: what can be consumed or reserved.")


class PaymentSummary(BaseModel):
    """The public part of the payment details."""

    provider: str = Field(description="Payment provider.")
    reference: str = Field(description="Provider reference.")
    card_last4: str | None = Field(description="Last four card digits.")


class PurchaseResult(Balances):
    """201 of /credits/purchase."""

    transaction_id: str = Field(description="Id of this ledger transaction.")
    account_id: str = Field(description="The account.")
    grant_id: str = Field(description="The grant this purchase created.")
    payment: PaymentSummary | None = Field(default=None, description="Payment summary.")


class ConsumeResult(Balances):
    """200 of /credits/consume."""

    transaction_id: str = Field(description="Id of this ledger transaction.")


class ReserveResult(Balances):
    """201 of /credits/reserve."""

    reservation_id: str = Field(description="Use it to commit or cancel the hold.")
    transaction_id: str = Field(description="Id of this ledger transaction.")
    amount: int = Field(description="Amount on hold.")
    expires_at: datetime = Field(description="When the hold is released by itself.")


class CommitResult(Balances):
    """200 of /credits/commit."""

    transaction_id: str = Field(description="Id of this ledger transaction.")
    reservation_id: str = Field(description="The hold.")
    committed: int = Field(description="Amount consumed from the hold.")
    released: int = Field(description="Rest of the hold, released.")


class CancelResult(Balances):
    """200 of /credits/cancel."""

    transaction_id: str = Field(description="Id of this ledger transaction.")
    reservation_id: str = Field(description="The hold.")
    released: int = Field(description="Amount released.")


class AccountResult(Balances):
    """201 of /credits/accounts."""

    tenant: str = Field(description="The account's tenant.")
    account_id: str = Field(description="The account.")
    metadata: dict[str, str] = Field(description="Labels.")
    version: int = Field(description="Stream version (events recorded).")


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


class ThresholdResult(BaseModel):
    """200 of /credits/threshold."""

    account_id: str = Field(description="The account.")
    threshold: int = Field(description="Alert below this (0: disabled).")
    webhook_url: str | None = Field(description="Where alerts are POSTed.")
    armed: bool = Field(description="Whether the next drop below the threshold alerts.")
    available: int = Field(description="Available now.")
    webhook_secret: str | None = Field(
        default=None, description="Signing secret for the webhook (shown in this answer only)."
    )


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


class VerifyResult(BaseModel):
    """200 of /credits/audit/verify."""

    ok: bool = Field(description="Whether every hash in the range matched.")
    verified_events: int = Field(description="Events verified before stopping.")
    head_hash: str = Field(description="Hash of the last verified event (record it elsewhere).")
    head_position: int = Field(description="Position of the last verified event.")
    first_bad_position: int | None = Field(description="First position that breaks the chain.")
    reason: str | None = Field(description="What is wrong there.")
    mismatches: list[dict[str, Any]] = Field(
        default_factory=list,
        description="With deep: each snapshot or balance row that differs from the events"
        " (kind, tenant, account_id, version, reason).",
    )


class BatchResult(BaseModel):
    """200 of /credits/batch."""

    atomic: bool = Field(description="Whether the batch was all-or-none.")
    results: list[dict[str, Any]] = Field(description="Each operation's result, in order.")
