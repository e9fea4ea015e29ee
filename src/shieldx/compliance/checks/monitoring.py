"""Monitoring checks: the ledger's audit chain, retention bounds, honeytoken alerts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import anyio.to_thread
import httpx
import sqlalchemy as sa

from shieldx.compliance import tables
from shieldx.compliance.checks.context import CheckContext
from shieldx.compliance.checks.domain import Outcome, Status
from shieldx.platform.honeytokens import honeytoken_uses

# GDPR Art. 33: notify within 72 hours of becoming aware of a breach.
BREACH_CLOCK = timedelta(hours=72)


async def audit_chain_verifies(ctx: CheckContext, params: Mapping[str, Any]) -> Outcome:
    """The credits service recomputes its hash chain (POST /credits/audit/verify, over HTTP
    with the caller's key) and every link matches."""
    base = ctx.targets.get("credits")
    if base is None:
        return Outcome(Status.NOT_APPLICABLE, "the credits service is not part of this platform")
    if ctx.api_key is None:
        return Outcome(Status.NON_COMPLIANT, "no API key to ask the ledger to verify with")
    try:
        answer = await ctx.http.post(
            base + "/credits/audit/verify",
            json={"deep": bool(params.get("deep", False))},
            headers={"Authorization": f"Bearer {ctx.api_key}"},
            timeout=float(params.get("timeout_seconds", 60)),
        )
    except httpx.HTTPError as exc:
        return Outcome(
            Status.NON_COMPLIANT, f"the ledger did not answer: {exc}", {"error": str(exc)}
        )
    if answer.status_code != 200:
        evidence = {"status": answer.status_code, "answer": answer.text[:500]}
        return Outcome(
            Status.NON_COMPLIANT, f"verification refused ({answer.status_code})", evidence
        )
    result = answer.json()
    if not result.get("ok"):
        return Outcome(
            Status.NON_COMPLIANT,
            f"the chain breaks at position {result.get('first_bad_position')}: "
            f"{result.get('reason')}",
            result,
        )
    return Outcome(Status.COMPLIANT, f"{result.get('verified_events')} event(s) verified", result)


async def retention_bounded(ctx: CheckContext, params: Mapping[str, Any]) -> Outcome:
    """The retention settings that are enforced lie within the control's bounds."""
    evidence_days = ctx.settings.compliance.evidence_retention_days
    idempotency_hours = ctx.settings.credits.idempotency_retention.total_seconds() / 3600
    lo, hi = int(params.get("min_evidence_days", 365)), int(params.get("max_evidence_days", 36_500))
    max_idem = float(params.get("max_idempotency_hours", 168))
    problems = []
    if not lo <= evidence_days <= hi:
        problems.append(
            f"compliance.evidence_retention_days is {evidence_days}, outside [{lo}, {hi}]"
        )
    if idempotency_hours > max_idem:
        problems.append(
            f"credits.idempotency_retention is {idempotency_hours:g} h, above {max_idem:g} h"
        )
    evidence = {
        "compliance.evidence_retention_days": evidence_days,
        "credits.idempotency_retention_hours": idempotency_hours,
        "bounds": {"evidence_days": [lo, hi], "idempotency_hours_max": max_idem},
        "not_enforced_yet": ["ledger events (kept for ever)", "recon events", "logs"],
        "problems": problems,
    }
    if problems:
        return Outcome(Status.NON_COMPLIANT, "; ".join(problems), evidence)
    return Outcome(Status.COMPLIANT, "enforced retention settings are within bounds", evidence)


def _honeytoken_state(ctx: CheckContext) -> tuple[list[Any], dict[str, Any]]:
    with ctx.db.read() as conn:
        uses = list(conn.execute(sa.select(honeytoken_uses)).all())
        alerts = {
            row.dedupe_key: row
            for row in conn.execute(
                sa.select(tables.alerts).where(tables.alerts.c.dedupe_key.like("honeytoken:%"))
            )
        }
    return uses, alerts


async def honeytoken_hits_alerted(ctx: CheckContext, params: Mapping[str, Any]) -> Outcome:
    """Every honeytoken use raised a compliance alert, and none older than 72 hours (the GDPR
    Art. 33 clock, started at detection) is still unacknowledged."""
    uses, alerts = await anyio.to_thread.run_sync(_honeytoken_state, ctx)
    if not uses:
        return Outcome(Status.NOT_APPLICABLE, "no honeytoken has been used")
    now_us = int(ctx.now.timestamp() * 1_000_000)
    missing = [use.id for use in uses if f"honeytoken:{use.id}" not in alerts]
    overdue = [
        alert.id
        for alert in alerts.values()
        if alert.acknowledged_at_us is None
        and alert.deadline_at_us is not None
        and alert.deadline_at_us < now_us
    ]
    evidence = {
        "uses": len(uses),
        "alerted": len(uses) - len(missing),
        "uses_without_alert": missing,
        "unacknowledged_past_72h": overdue,
        "open": sum(1 for a in alerts.values() if a.acknowledged_at_us is None),
    }
    if missing or overdue:
        return Outcome(
            Status.NON_COMPLIANT,
            f"{len(missing)} use(s) without an alert, {len(overdue)} alert(s) past 72 h",
            evidence,
        )
    return Outcome(Status.COMPLIANT, f"all {len(uses)} honeytoken use(s) alerted", evidence)
