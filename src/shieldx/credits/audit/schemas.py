"""Request and response models of the hash-chain verification route."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from shieldx.credits.ledger.schemas import Body, Position


class VerifyRequest(Body):
    """POST /credits/audit/verify."""

    from_position: Position | None = Field(default=None, description="First position (1).")
    to_position: Position | None = Field(default=None, description="Last position (the head).")
    deep: bool = Field(
        default=False,
        description="Also check every snapshot and balance row against the fold of the events.",
    )


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
    shard: str | None = Field(
        default=None, description="With several shards: the shard of the first break."
    )
    shards: list[dict[str, Any]] | None = Field(
        default=None,
        description="With several shards: each shard's own result (its chain and positions).",
    )
