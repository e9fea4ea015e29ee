"""Run an assessment: every check once, scores, evidence chain, findings, plans and alerts."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import anyio.to_thread
import httpx
import sqlalchemy as sa
import structlog

from shieldx.compliance import tables
from shieldx.compliance.alerts.service import AlertService
from shieldx.compliance.alerts.store import NewAlert
from shieldx.compliance.assessment.domain import (
    FrameworkResult,
    canonical,
    findings,
    judge_framework,
    overall_score,
    run_key,
)
from shieldx.compliance.assessment.store import AssessmentStore, EvidenceItem
from shieldx.compliance.checks.context import CheckContext
from shieldx.compliance.checks.domain import Outcome, Status
from shieldx.compliance.checks.monitoring import BREACH_CLOCK
from shieldx.compliance.checks.registry import CHECKS
from shieldx.compliance.frameworks.domain import CheckRef, Framework
from shieldx.compliance.metrics import ComplianceMetrics
from shieldx.config import Settings
from shieldx.platform.auth import ApiKeyStore
from shieldx.platform.crypto import Keyring
from shieldx.platform.db import Database
from shieldx.platform.honeytokens import honeytoken_uses
from shieldx.platform.roles import Role

log = structlog.get_logger("shieldx.compliance")
# The name of the short-lived auditor key each scheduled assessment runs with.
SCHEDULER_KEY_NAME = "compliance-schedule"
# How long a remediation plan may take, by the severity of its finding.
DUE_IN = {
    "critical": timedelta(days=7),
    "high": timedelta(days=30),
    "medium": timedelta(days=90),
    "low": timedelta(days=180),
}


class AssessmentService:
    """Assesses the platform against the enabled frameworks."""

    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        keyring: Keyring,
        frameworks: Sequence[Framework],
        targets: Mapping[str, str],
        limiters: Mapping[str, tuple[float, float]],
        store: AssessmentStore,
        alerts: AlertService,
        http: httpx.AsyncClient,
        metrics: ComplianceMetrics,
    ) -> None:
        self.settings = settings
        self.db = db
        self.keyring = keyring
        self.frameworks = list(frameworks)
        self.targets = dict(targets)
        self.limiters = dict(limiters)
        self.store = store
        self.alerts = alerts
        self.http = http
        self.metrics = metrics
        # One assessment at a time per process: the evidence chain is appended to in order.
        self._running = asyncio.Lock()

    async def assess(self, *, api_key: str | None, requested_by: str) -> dict[str, Any]:
        """Run every check of every enabled framework once and record the result."""
        async with self._running:
            return await self._assess(api_key=api_key, requested_by=requested_by)

    async def _assess(self, *, api_key: str | None, requested_by: str) -> dict[str, Any]:
        started = time.perf_counter()
        now = datetime.fromtimestamp(self.alerts.clock(), tz=UTC)
        now_us = int(now.timestamp() * 1_000_000)
        report_id = secrets.token_hex(8)
        await anyio.to_thread.run_sync(self.store.sync_catalogue, self.frameworks, now_us)
        await self.alert_honeytoken_uses()
        ctx = CheckContext(
            settings=self.settings,
            db=self.db,
            keyring=self.keyring,
            targets=self.targets,
            http=self.http,
            api_key=api_key,
            now=now,
            limiters=self.limiters,
        )
        refs = {
            run_key(r.check, r.params): r
            for f in self.frameworks
            for c in f.controls
            for r in c.checks
        }
        outcomes = {key: await self._run(ref, ctx) for key, ref in refs.items()}
        items = [
            EvidenceItem(
                check=ref.check,
                status=outcomes[key].status.value,
                data=canonical(
                    {
                        "check": ref.check,
                        "params": dict(ref.params),
                        "summary": outcomes[key].summary,
                        "evidence": dict(outcomes[key].evidence),
                    }
                ),
            )
            for key, ref in refs.items()
        ]
        stored = await anyio.to_thread.run_sync(
            self.store.append_evidence, report_id, items, now_us
        )
        evidence = {
            key: {
                "check": item.check,
                "status": item.status,
                "seq": where.seq,
                "sha256": where.sha256,
                "summary": outcomes[key].summary,
                "data": dict(outcomes[key].evidence),
            }
            for key, item, where in zip(refs, items, stored, strict=True)
        }
        results = [judge_framework(f, outcomes) for f in self.frameworks]
        result = self._shape(report_id, now, results, evidence)
        await anyio.to_thread.run_sync(
            lambda: self.store.insert_report(
                report_id=report_id,
                now_us=now_us,
                requested_by=requested_by,
                overall=result["overall"],
                result=json.dumps(result),
            )
        )
        await self._follow_up(report_id, results, now_us)
        cutoff = now - timedelta(days=self.settings.compliance.evidence_retention_days)
        await anyio.to_thread.run_sync(
            self.store.prune_evidence, int(cutoff.timestamp() * 1_000_000)
        )
        self._observe(results, time.perf_counter() - started)
        log.info("compliance.assessed", report_id=report_id, overall=result["overall"])
        return result

    async def _run(self, ref: CheckRef, ctx: CheckContext) -> Outcome:
        started = time.perf_counter()
        try:
            outcome = await CHECKS[ref.check](ctx, ref.params)
        except Exception as exc:  # a check that cannot gather evidence proves nothing
            log.exception("compliance.check_failed", check=ref.check)
            outcome = Outcome(
                Status.NON_COMPLIANT,
                f"the check failed to gather evidence: {type(exc).__name__}: {exc}",
                {"error": f"{type(exc).__name__}: {exc}"},
            )
        took = round((time.perf_counter() - started) * 1000, 1)
        return Outcome(outcome.status, outcome.summary, {**outcome.evidence, "took_ms": took})

    def _shape(
        self,
        report_id: str,
        now: datetime,
        results: Sequence[FrameworkResult],
        evidence: Mapping[str, dict[str, Any]],
    ) -> dict[str, Any]:
        return {
            "id": report_id,
            "created_at": now.isoformat(),
            "overall": overall_score(results),
            "frameworks": {
                r.framework.id: {
                    "title": r.framework.title,
                    "version": r.framework.version,
                    "score": r.score,
                    "controls": [
                        {
                            "id": c.control.id,
                            "title": c.control.title,
                            "status": c.status.value,
                            "score": c.score,
                            "severity": c.severity,
                            "recommendation": c.control.recommendation,
                            "evidence": [evidence[key] for _, key, _ in c.runs],
                        }
                        for c in r.controls
                    ],
                }
                for r in results
            },
        }

    async def _follow_up(
        self, report_id: str, results: Sequence[FrameworkResult], now_us: int
    ) -> None:
        limits = self.settings.compliance.alert_thresholds
        thresholds = {"critical": limits.critical, "high": limits.high, "medium": limits.medium}
        for finding in findings(results, thresholds):
            due = now_us + int(DUE_IN[finding.severity].total_seconds() * 1_000_000)
            plan_id = await anyio.to_thread.run_sync(
                partial(
                    self.store.open_plan,
                    framework=finding.framework,
                    control=finding.control,
                    severity=finding.severity,
                    recommendation=finding.recommendation,
                    due_at_us=due,
                    report_id=report_id,
                    now_us=now_us,
                )
            )
            if finding.alert:
                await self.alerts.raise_alert(
                    NewAlert(
                        dedupe_key=f"finding:{plan_id}",
                        severity=finding.severity,
                        subject=f"{finding.framework} {finding.control} is non-compliant",
                        detail=finding.recommendation,
                    )
                )

    async def alert_honeytoken_uses(self) -> None:
        """Raise an alert for every recorded honeytoken use that has none (uses recorded by
        other processes, or while this one was down); live uses are alerted at once."""
        uses = await anyio.to_thread.run_sync(self._honeytoken_uses)
        for use in uses:
            await self.alerts.raise_alert(honeytoken_alert(use.id, use.location, use.used_at))

    def _honeytoken_uses(self) -> list[Any]:
        with self.db.read() as conn:
            alerted = sa.select(tables.alerts.c.dedupe_key).where(
                tables.alerts.c.dedupe_key.like("honeytoken:%")
            )
            known = set(conn.execute(alerted).scalars())
            rows = conn.execute(sa.select(honeytoken_uses)).all()
        return [row for row in rows if f"honeytoken:{row.id}" not in known]

    def _observe(self, results: Sequence[FrameworkResult], seconds: float) -> None:
        self.metrics.duration.observe(seconds)
        counts = dict.fromkeys((s.value for s in Status), 0)
        severities = dict.fromkeys(("critical", "high", "medium", "low"), 0)
        for result in results:
            self.metrics.score.labels(result.framework.id).set(result.score)
            for control in result.controls:
                counts[control.status.value] += 1
                if control.severity is not None:
                    severities[control.severity] += 1
        for status, count in counts.items():
            self.metrics.controls.labels(status).set(count)
        for severity, count in severities.items():
            self.metrics.findings.labels(severity).set(count)


async def scheduled_assessment(service: AssessmentService, keys: ApiKeyStore) -> dict[str, Any]:
    """One assessment run by the schedule (compliance.monitoring_interval).

    The checks that ask the services (route probes, the ledger's chain verification) need a
    key: the run mints an auditor key (read-only everywhere), uses it and revokes it, so no
    standing credential exists for the scheduler and each run is visible in the key list.
    """
    record, key = await anyio.to_thread.run_sync(
        partial(keys.create, role=Role.AUDITOR, name=SCHEDULER_KEY_NAME)
    )
    try:
        return await service.assess(api_key=key, requested_by=f"schedule ({record.id})")
    finally:
        await anyio.to_thread.run_sync(keys.revoke, record.id)


async def run_schedule(service: AssessmentService, keys: ApiKeyStore, interval: timedelta) -> None:
    """Assess every INTERVAL until cancelled (the first run one interval after start)."""
    while True:
        await asyncio.sleep(interval.total_seconds())
        try:
            result = await scheduled_assessment(service, keys)
        except Exception:  # a failed run is logged; the schedule goes on
            log.exception("compliance.schedule_failed")
            continue
        log.info("compliance.scheduled", overall=result["overall"], report_id=result["id"])


def honeytoken_alert(use_id: int, location: str, used_at: datetime) -> NewAlert:
    """The alert for one honeytoken use; GDPR Art. 33's 72-hour clock starts at detection."""
    detected = used_at if used_at.tzinfo is not None else used_at.replace(tzinfo=UTC)
    return NewAlert(
        dedupe_key=f"honeytoken:{use_id}",
        severity="critical",
        subject=f"honeytoken used ({location}): a possible breach",
        detail=(
            "A planted credential was presented. Investigate the source, and decide within 72 "
            "hours of detection whether the supervisory authority must be notified (GDPR Art. 33)."
        ),
        deadline_at_us=int((detected + BREACH_CLOCK).timestamp() * 1_000_000),
    )
