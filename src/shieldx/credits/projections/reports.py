"""Usage reports from the credit_usage read model: per hour or day, and in total; JSON or CSV."""

from __future__ import annotations

import csv
import io
from typing import Any, Literal

import sqlalchemy as sa

from shieldx.credits.ledger.ids import iso
from shieldx.credits.tables import usage
from shieldx.platform.db import Database

Granularity = Literal["hour", "day"]
BUCKET_US = {"hour": 3_600_000_000, "day": 86_400_000_000}
KINDS = ("purchased", "consumed", "held", "released", "expired")


def _empty() -> dict[str, Any]:
    return {**dict.fromkeys(KINDS, 0), "consumed_by_reason": {}, "purchased_by_type": {}}


def _add(bucket: dict[str, Any], kind: str, reason: str, amount: int) -> None:
    bucket[kind] += amount
    if kind == "consumed":
        by = bucket["consumed_by_reason"]
        by[reason] = by.get(reason, 0) + amount
    elif kind == "purchased":
        by = bucket["purchased_by_type"]
        by[reason] = by.get(reason, 0) + amount


def usage_report(
    db: Database,
    tenant: str,
    *,
    account_id: str | None,
    start_us: int,
    end_us: int,
    granularity: Granularity,
) -> dict[str, Any]:
    """Buckets that saw activity in [start, end) and the totals over them."""
    size = BUCKET_US[granularity]
    start = start_us - start_us % size
    u = usage.c
    query = (
        sa.select(u.bucket_us, u.kind, u.reason, sa.func.sum(u.amount).label("amount"))
        .where(u.tenant == tenant, u.bucket_us >= start, u.bucket_us < end_us)
        .group_by(u.bucket_us, u.kind, u.reason)
    )
    if account_id is not None:
        query = query.where(u.account_id == account_id)
    with db.read() as conn:
        rows = conn.execute(query).all()
    buckets: dict[int, dict[str, Any]] = {}
    total = _empty()
    for row in rows:
        key = row.bucket_us - row.bucket_us % size
        bucket = buckets.setdefault(key, _empty())
        amount = int(row.amount)
        _add(bucket, row.kind, row.reason, amount)
        _add(total, row.kind, row.reason, amount)
    return {
        "tenant": tenant,
        "account_id": account_id,
        "granularity": granularity,
        "from": iso(start),
        "to": iso(end_us),
        "buckets": [{"start": iso(k), **buckets[k]} for k in sorted(buckets)],
        "total": total,
    }


def report_csv(report: dict[str, Any]) -> str:
    """One row per bucket and a final 'total' row; a column per consumption reason."""
    reasons = sorted(report["total"]["consumed_by_reason"])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["start", *KINDS, *(f"consumed:{r}" for r in reasons)])
    for bucket in [*report["buckets"], {"start": "total", **report["total"]}]:
        by = bucket["consumed_by_reason"]
        writer.writerow(
            [bucket["start"], *(bucket[k] for k in KINDS), *(by.get(r, 0) for r in reasons)]
        )
    return out.getvalue()


def merge_reports(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """The sum of the same report taken on every shard (same tenant, range and buckets)."""
    first = reports[0]
    buckets: dict[str, dict[str, Any]] = {}
    total = _empty()
    for report in reports:
        for bucket in report["buckets"]:
            into = buckets.setdefault(bucket["start"], _empty())
            _merge(into, bucket)
        _merge(total, report["total"])
    return {
        **first,
        "buckets": [{"start": k, **buckets[k]} for k in sorted(buckets)],
        "total": total,
    }


def _merge(into: dict[str, Any], figures: dict[str, Any]) -> None:
    for kind in KINDS:
        into[kind] += figures[kind]
    for field in ("consumed_by_reason", "purchased_by_type"):
        for reason, amount in figures[field].items():
            into[field][reason] = into[field].get(reason, 0) + amount
