"""Request and response models of the ledger's command routes (every field documented in OpenAPI)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shieldx.credits.ledger.events import MAX_AMOUNT
from shieldx.platform.cards import card_numbers
from shieldx.platform.parsing import INT64_MAX
from shieldx.platform.schemas import RequestModel

ACCOUNT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"

Amount = Annotated[
    int,
    Field(
        strict=True,
        ge=1,
        le=MAX_AMOUNT,
        description="Integer amount in the smallest unit, 1 to 2^63-1 (never a float).",
    ),
]
Position = Annotated[
    int, Field(strict=True, ge=1, le=INT64_MAX, description="A log position, 1 to 2^63-1.")
]
AccountField = Annotated[
    str,
    Field(
        pattern=ACCOUNT_PATTERN,
        description="Account id: 1-128 letters, digits or . _ : @ - (unique within a tenant).",
    ),
]
TenantField = Annotated[
    str | None,
    Field(
        default=None,
        min_length=1,
        max_length=128,
        description="Tenant to act on: implied by a tenant-scoped key; required for unscoped keys.",
    ),
]
TtlSeconds = Annotated[
    float,
    Field(
        gt=0,
        allow_inf_nan=False,
        description="Seconds until the hold is released by itself: above 0, at most "
        "credits.max_hold_ttl (7 days by default).",
    ),
]
Reason = Annotated[
    str, Field(min_length=1, max_length=200, description="Why (reported by reason).")
]


class Body(RequestModel):
    """Base of request bodies: unknown fields and control characters are errors."""

    model_config = ConfigDict(extra="forbid")


class AccountCreate(Body):
    """POST /credits/accounts."""

    account_id: AccountField
    tenant: TenantField = None
    metadata: dict[str, Annotated[str, Field(max_length=256)]] = Field(
        default_factory=dict, max_length=32, description="Up to 32 string labels."
    )


class PaymentDetails(Body):
    """How a purchase was paid; sealed with AES-256-GCM at rest, never returned in full."""

    provider: str = Field(min_length=1, max_length=64, description="Payment provider, e.g. stripe.")
    reference: str = Field(
        min_length=1, max_length=200, description="The provider's payment reference."
    )
    card_last4: str | None = Field(
        default=None, pattern=r"^[0-9]{4}$", description="Last four digits of the card, if any."
    )
    card_token: str | None = Field(
        default=None,
        min_length=1,
        max_length=512,
        description="Provider card token: stored sealed, never returned or logged.",
    )

    @field_validator("provider", "reference")
    @classmethod
    def _no_card_number(cls, value: str) -> str:
        # The reference is stored and shown in clear: a card number there would be a PAN in
        # clear (PCI DSS 3.4). The message never repeats the value.
        if next(card_numbers(value), None) is not None:
            raise ValueError(
                "holds a card number: send the provider's payment reference, never a card "
                "number (card_last4 takes the last four digits; card_token the provider's token)"
            )
        return value


class PurchaseRequest(Body):
    """POST /credits/purchase: add a grant (creating the account on first purchase)."""

    account_id: AccountField
    amount: Amount
    grant_type: Literal["paid", "promotional"] = Field(
        default="paid", description="paid or promotional."
    )
    expires_at: datetime | None = Field(
        default=None, description="When the grant stops counting (RFC 3339 with a time zone)."
    )
    priority: int = Field(
        default=100, ge=0, le=1000, description="Lower is drawn first; ties: earliest expiry."
    )
    payment: PaymentDetails | None = Field(
        default=None, description="How it was paid (sealed at rest; only a summary is shown)."
    )
    tenant: TenantField = None

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("expires_at needs a time zone, e.g. 2030-01-01T00:00:00Z")
        return value


class ConsumeRequest(Body):
    """POST /credits/consume."""

    account_id: AccountField
    amount: Amount
    reason: Reason
    tenant: TenantField = None


class ReserveRequest(Body):
    """POST /credits/reserve: a hold that expires after ttl_seconds."""

    account_id: AccountField
    amount: Amount
    ttl_seconds: TtlSeconds
    reason: str = Field(
        default="reservation", max_length=200, description="Why (reported when committed)."
    )
    tenant: TenantField = None


class CommitRequest(Body):
    """POST /credits/commit: post all (no amount) or part of a hold; the rest is released."""

    reservation_id: str = Field(min_length=1, max_length=64, description="From /credits/reserve.")
    amount: Amount | None = Field(default=None, description="Part to commit (default: all).")
    tenant: TenantField = None


class CancelRequest(Body):
    """POST /credits/cancel: release a hold."""

    reservation_id: str = Field(min_length=1, max_length=64, description="From /credits/reserve.")
    tenant: TenantField = None


class ThresholdRequest(Body):
    """POST /credits/threshold: alert once per crossing below THRESHOLD (0 disables)."""

    account_id: AccountField
    threshold: int = Field(strict=True, ge=0, le=MAX_AMOUNT, description="Alert below this.")
    webhook_url: str | None = Field(
        default=None,
        max_length=2048,
        pattern=r"^https?://[^\s]+$",
        description="Where alerts are POSTed, signed with HMAC-SHA256 (ShieldX-Signature).",
    )
    tenant: TenantField = None


class _BatchOp(Body):
    pass


class BatchPurchase(_BatchOp):
    """A purchase inside a batch."""

    op: Literal["purchase"] = Field(description="purchase")
    account_id: AccountField
    amount: Amount
    grant_type: Literal["paid", "promotional"] = Field(default="paid", description="Grant type.")
    expires_at: datetime | None = Field(default=None, description="When the grant expires.")
    priority: int = Field(default=100, ge=0, le=1000, description="Lower is drawn first.")


class BatchConsume(_BatchOp):
    """A consume inside a batch."""

    op: Literal["consume"] = Field(description="consume")
    account_id: AccountField
    amount: Amount
    reason: Reason


class BatchReserve(_BatchOp):
    """A reserve inside a batch."""

    op: Literal["reserve"] = Field(description="reserve")
    account_id: AccountField
    amount: Amount
    ttl_seconds: TtlSeconds
    reason: str = Field(default="reservation", max_length=200, description="Why.")


class BatchCommit(_BatchOp):
    """A commit of an existing hold inside a batch."""

    op: Literal["commit"] = Field(description="commit")
    reservation_id: str = Field(min_length=1, max_length=64, description="An existing hold.")
    amount: Amount | None = Field(default=None, description="Part to commit (default: all).")


class BatchCancel(_BatchOp):
    """A cancel of an existing hold inside a batch."""

    op: Literal["cancel"] = Field(description="cancel")
    reservation_id: str = Field(min_length=1, max_length=64, description="An existing hold.")


BatchOperation = Annotated[
    BatchPurchase | BatchConsume | BatchReserve | BatchCommit | BatchCancel,
    Field(discriminator="op"),
]


class BatchRequest(Body):
    """POST /credits/batch: linked operations; atomic means all are recorded or none."""

    operations: list[BatchOperation] = Field(min_length=1, description="In order.")
    atomic: bool = Field(default=True, description="All or none (true), or each on its own.")
    tenant: TenantField = None


# ------------------------------------------------------------------ responses
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


class BatchResult(BaseModel):
    """200 of /credits/batch."""

    atomic: bool = Field(description="Whether the batch was all-or-none.")
    results: list[dict[str, Any]] = Field(description="Each operation's result, in order.")


class TransferRequest(Body):
    """POST /credits/transfer: move credits between two accounts of one tenant."""

    from_account: AccountField
    to_account: AccountField
    amount: Amount
    reason: Reason
    tenant: TenantField = None

    @model_validator(mode="after")
    def _two_accounts(self) -> TransferRequest:
        if self.from_account == self.to_account:
            raise ValueError("from_account and to_account must be different accounts")
        return self


class TransferSide(BaseModel):
    """One account of a transfer, right after it."""

    account_id: str = Field(description="The account.")
    balance: int = Field(description="Balance after the transfer.")
    available: int = Field(description="Available after the transfer.")


class TransferResult(BaseModel):
    """200 of /credits/transfer: both accounts' new figures."""

    transfer_id: str = Field(description="The transfer's id (its transaction id).")
    amount: int = Field(description="Credits moved.")
    from_: TransferSide = Field(alias="from", description="The source account.")
    to: TransferSide = Field(description="The target account.")
