"""Access checks: routes refuse requests without a key; keys are hashed, rotated, rate limited."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
import httpx
import sqlalchemy as sa

from shieldx.compliance.checks.context import CheckContext
from shieldx.compliance.checks.domain import Outcome, Status
from shieldx.platform.auth import api_keys, hash_key
from shieldx.platform.mfa import mfa_factors

_METHODS = ("get", "post", "put", "patch", "delete")
_PARAM = re.compile(r"\{[^}]+\}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


async def routes_require_key(ctx: CheckContext, params: Mapping[str, Any]) -> Outcome:
    """Every operation a service's OpenAPI document marks as authenticated answers 401 without
    a key (probed over HTTP); the document is read with the caller's key."""
    if ctx.api_key is None:
        return Outcome(Status.NON_COMPLIANT, "no API key to read the route tables with")
    requests: list[tuple[str, str, str, str]] = []  # service, method, path template, url
    unreachable: dict[str, str] = {}
    for service, base in sorted(ctx.targets.items()):
        try:
            doc = await _openapi(ctx.http, base, ctx.api_key)
        except (httpx.HTTPError, ValueError) as exc:
            unreachable[service] = f"{type(exc).__name__}: {exc}"
            continue
        for path, item in doc.get("paths", {}).items():
            for method in _METHODS:
                operation = item.get(method)
                if operation is None or operation.get("security") == []:
                    continue  # public by declaration (health, JWKS, …)
                url = base + _PARAM.sub("compliance-probe", path)
                requests.append((service, method.upper(), path, url))
    gate = asyncio.Semaphore(8)

    async def probe(method: str, url: str) -> int:
        async with gate:
            return (await ctx.http.request(method, url, content=b"")).status_code

    statuses = await asyncio.gather(*(probe(method, url) for _, method, _, url in requests))
    probed = len(requests)
    # A 429 refused the request before any handler ran, though not with a 401.
    limited = sum(1 for status in statuses if status == 429)
    admitted = [
        f"{service} {method} {path} -> {status}"
        for (service, method, path, _), status in zip(requests, statuses, strict=True)
        if status not in (401, 429)
    ]
    evidence = {
        "services": sorted(ctx.targets),
        "probed_operations": probed,
        "refused_401": probed - len(admitted) - limited,
        "refused_429": limited,
        "answered_without_key": admitted,
        "unreachable": unreachable,
    }
    if admitted or unreachable:
        what = f"{len(admitted)} route(s) answered without a key" if admitted else ""
        if unreachable:
            what = (what + "; " if what else "") + f"unreachable: {', '.join(unreachable)}"
        return Outcome(Status.NON_COMPLIANT, what, evidence)
    if probed == 0:
        return Outcome(Status.NOT_APPLICABLE, "no authenticated routes found", evidence)
    return Outcome(Status.COMPLIANT, f"all {probed} authenticated operations refused", evidence)


async def _openapi(http: httpx.AsyncClient, base: str, key: str) -> dict[str, Any]:
    answer = await http.get(base + "/openapi.json", headers={"Authorization": f"Bearer {key}"})
    answer.raise_for_status()
    doc = answer.json()
    if not isinstance(doc, dict):
        raise ValueError("the OpenAPI document is not an object")
    return doc


def _key_rows(ctx: CheckContext) -> list[sa.Row[Any]]:
    with ctx.db.read() as conn:
        return list(conn.execute(sa.select(api_keys)).all())


async def api_keys_hashed(ctx: CheckContext, params: Mapping[str, Any]) -> Outcome:
    """Every stored key hash is a SHA-256 digest, and the caller's own key appears nowhere in
    the api_keys table in clear (a positive test that plaintext is not stored)."""
    rows = await anyio.to_thread.run_sync(_key_rows, ctx)
    if not rows:
        return Outcome(Status.NOT_APPLICABLE, "no API keys stored")
    malformed = [row.id for row in rows if not _HEX64.fullmatch(row.key_hash or "")]
    clear: list[str] = []
    own_hash_found = False
    if ctx.api_key is not None:
        for row in rows:
            values = [str(v) for v in row._mapping.values() if v is not None]
            if any(ctx.api_key in value for value in values):
                clear.append(row.id)
            own_hash_found |= row.key_hash == hash_key(ctx.api_key)
    evidence = {
        "keys": len(rows),
        "malformed_hashes": malformed,
        "rows_holding_a_key_in_clear": clear,
        "caller_key_found_by_hash": own_hash_found,
    }
    if malformed or clear:
        return Outcome(Status.NON_COMPLIANT, "API keys stored in a readable form", evidence)
    return Outcome(Status.COMPLIANT, f"{len(rows)} key(s) stored as SHA-256 digests", evidence)


async def api_keys_rotated(ctx: CheckContext, params: Mapping[str, Any]) -> Outcome:
    """No active API key is older than compliance.api_key_max_age_days."""
    max_days = int(params.get("max_age_days", ctx.settings.compliance.api_key_max_age_days))
    rows = await anyio.to_thread.run_sync(_key_rows, ctx)
    active = [row for row in rows if row.revoked_at is None]
    if not active:
        return Outcome(Status.NOT_APPLICABLE, "no active API keys")
    ages = {row.id: (ctx.now - _utc(row.created_at)).total_seconds() / 86_400 for row in active}
    stale = sorted(kid for kid, age in ages.items() if age > max_days)
    evidence = {
        "max_age_days": max_days,
        "active_keys": len(active),
        "oldest_age_days": round(max(ages.values()), 3),
        "older_than_max": stale,
    }
    if stale:
        return Outcome(
            Status.NON_COMPLIANT, f"{len(stale)} key(s) older than {max_days} days", evidence
        )
    return Outcome(Status.COMPLIANT, f"every active key is under {max_days} days old", evidence)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


async def rate_limits_on(ctx: CheckContext, params: Mapping[str, Any]) -> Outcome:
    """Rate limiting is enabled, and the limiters the middleware really uses are no looser
    than the control's maximum rates."""
    limits = ctx.settings.security.rate_limit
    max_rate = float(params.get("max_key_rate", 10_000))
    evidence: dict[str, Any] = {
        "enabled": limits.enabled,
        "limiters": {name: {"rate": r, "burst": b} for name, (r, b) in ctx.limiters.items()},
        "max_key_rate": max_rate,
    }
    if not limits.enabled:
        return Outcome(Status.NON_COMPLIANT, "security.rate_limit.enabled is off", evidence)
    loose = [name for name, (rate, _) in ctx.limiters.items() if rate > max_rate]
    if loose:
        return Outcome(Status.NON_COMPLIANT, f"limits above {max_rate}/s: {loose}", evidence)
    return Outcome(Status.COMPLIANT, "rate limits are on for keys, tenants and addresses", evidence)


async def admin_mfa_enforced(ctx: CheckContext, params: Mapping[str, Any]) -> Outcome:
    """With security.admin_mfa on, an admin operation without a second-factor code is refused
    (probed: POST /admin/keys with the caller's key and no code must answer mfa-required);
    every active admin key has a confirmed factor."""
    enabled = ctx.settings.security.admin_mfa
    rows = await anyio.to_thread.run_sync(_admin_factors, ctx)
    without = sorted(key_id for key_id, confirmed in rows if not confirmed)
    evidence: dict[str, Any] = {
        "security.admin_mfa": enabled,
        "active_admin_keys": len(rows),
        "admin_keys_without_factor": without,
    }
    if not enabled:
        return Outcome(Status.NON_COMPLIANT, "security.admin_mfa is off", evidence)
    probed: dict[str, str] = {}
    if ctx.api_key is not None:
        for service, base in sorted(ctx.targets.items())[:1]:
            try:
                answer = await ctx.http.post(
                    base + "/admin/keys",
                    json={"role": "auditor", "name": "compliance-probe"},
                    headers={"Authorization": f"Bearer {ctx.api_key}"},
                )
            except httpx.HTTPError as exc:
                probed[service] = f"unreachable: {type(exc).__name__}"
                continue
            kind = str(answer.json().get("type", "")) if answer.status_code >= 400 else ""
            probed[service] = f"{answer.status_code} {kind.rsplit('/', 1)[-1]}".strip()
    evidence["probe_without_code"] = probed
    admitted = [s for s, what in probed.items() if what.startswith("2")]
    if admitted:
        return Outcome(
            Status.NON_COMPLIANT, f"an admin operation ran without a code on {admitted}", evidence
        )
    if without:
        return Outcome(
            Status.NON_COMPLIANT,
            f"{len(without)} active admin key(s) have no confirmed second factor",
            evidence,
        )
    return Outcome(
        Status.COMPLIANT, "admin operations need a TOTP code from a confirmed factor", evidence
    )


def _admin_factors(ctx: CheckContext) -> list[tuple[str, bool]]:
    joined = api_keys.outerjoin(mfa_factors, mfa_factors.c.key_id == api_keys.c.id)
    query = sa.select(api_keys.c.id, mfa_factors.c.confirmed).select_from(joined)
    query = query.where(api_keys.c.role == "admin", api_keys.c.revoked_at.is_(None))
    with ctx.db.read() as conn:
        return [(row.id, bool(row.confirmed)) for row in conn.execute(query)]
