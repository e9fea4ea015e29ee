"""Cryptography checks: TLS on the listeners, sealed payment data, no clear card numbers,
encryption key age."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import anyio.to_thread
import sqlalchemy as sa

from shieldx.compliance.checks.context import CheckContext
from shieldx.compliance.checks.domain import Outcome, Status
from shieldx.platform.cards import card_numbers, masked
from shieldx.platform.crypto import DecryptionError, key_file_path

_VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}
# The ledger's sealed columns and the associated data each was sealed with (its context).
_SEALED = (
    ("credit_payments", "details", "credits.payment:{account_id}"),
    ("credit_thresholds", "webhook_secret", "credits.webhook:{tenant}/{account_id}"),
)


async def listeners_tls(ctx: CheckContext, params: Mapping[str, Any]) -> Outcome:
    """Every service's listener completes a TLS handshake at the minimum version or newer
    (a real client connects and looks; certificate trust is not judged here)."""
    minimum = str(params.get("min_version", "TLSv1.2"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = _VERSIONS[minimum]
    seen: dict[str, str] = {}
    for service, base in sorted(ctx.targets.items()):
        parts = urlsplit(base)
        host, port = parts.hostname or "127.0.0.1", parts.port or 443
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, ssl=context, server_hostname=host), 5
            )
        except (OSError, TimeoutError) as exc:
            seen[service] = f"no TLS: {type(exc).__name__}: {exc}"
            continue
        obj = writer.get_extra_info("ssl_object")
        seen[service] = f"negotiated {obj.version() if obj is not None else 'unknown'}"
        writer.close()
        # Without waiting, the socket outlives its loop when the caller's loop ends next.
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), 5)
    plain = sorted(name for name, what in seen.items() if not what.startswith("negotiated"))
    evidence = {"minimum": minimum, "listeners": seen}
    if not seen:
        return Outcome(Status.NOT_APPLICABLE, "no listeners configured", evidence)
    if plain:
        return Outcome(Status.NON_COMPLIANT, f"no TLS on {', '.join(plain)}", evidence)
    return Outcome(Status.COMPLIANT, f"every listener negotiates {minimum} or newer", evidence)


def _sealed_rows(ctx: CheckContext) -> dict[str, Any]:
    present = set(sa.inspect(ctx.db.engine).get_table_names())
    counts: dict[str, Any] = {}
    with ctx.db.read() as conn:
        for table, column, template in _SEALED:
            if table not in present:
                continue
            opened = failed = 0
            bad: list[str] = []
            sealed: sa.ColumnClause[Any] = sa.column(column)
            query = (
                sa.select(sa.column("tenant"), sa.column("account_id"), sealed)
                .select_from(sa.table(table))
                .where(sealed.is_not(None))
            )
            for tenant, account_id, value in conn.execute(query):
                try:
                    ctx.keyring.decrypt(
                        value, template.format(tenant=tenant, account_id=account_id)
                    )
                    opened += 1
                except DecryptionError as exc:
                    failed += 1
                    bad.append(f"{account_id}: {exc}")
            counts[f"{table}.{column}"] = {"sealed": opened, "not_sealed": failed, "rows": bad[:20]}
    return counts


async def payments_sealed(ctx: CheckContext, params: Mapping[str, Any]) -> Outcome:
    """Each of the ledger's sealed columns opens with the keyring (AES-256-GCM, its context
    bound), so none holds a value stored in clear or sealed by an unknown key."""
    counts = await anyio.to_thread.run_sync(_sealed_rows, ctx)
    total = sum(c["sealed"] + c["not_sealed"] for c in counts.values())
    failed = sum(c["not_sealed"] for c in counts.values())
    evidence = {"columns": counts, "active_key_id": ctx.keyring.active_id}
    if total == 0:
        return Outcome(Status.NOT_APPLICABLE, "no sealed values stored yet", evidence)
    if failed:
        return Outcome(Status.NON_COMPLIANT, f"{failed} value(s) do not open", evidence)
    return Outcome(Status.COMPLIANT, f"all {total} sealed value(s) open with the keyring", evidence)


def _scan_cards(ctx: CheckContext, limit: int) -> dict[str, Any]:
    inspector = sa.inspect(ctx.db.engine)
    found: list[dict[str, str]] = []
    scanned_columns = 0
    scanned_rows = 0
    with ctx.db.read() as conn:
        for table in inspector.get_table_names():
            columns = [
                c["name"]
                for c in inspector.get_columns(table)
                if isinstance(c["type"], sa.String | sa.Text)
            ]
            if not columns:
                continue
            scanned_columns += len(columns)
            clause = sa.table(table, *(sa.column(name) for name in columns))
            for row in conn.execute(sa.select(clause)):
                scanned_rows += 1
                for name, value in zip(columns, row, strict=True):
                    if isinstance(value, str):
                        for pan in card_numbers(value):
                            found.append({"table": table, "column": name, "pan": masked(pan)})
                if len(found) >= limit:
                    break
    return {"columns": scanned_columns, "rows": scanned_rows, "found": found[:limit]}


async def no_clear_card_numbers(ctx: CheckContext, params: Mapping[str, Any]) -> Outcome:
    """No text column of any table holds a card number in clear (brand prefix, length and
    Luhn checksum valid); evidence shows where, masked to the first six and last four."""
    scan = await anyio.to_thread.run_sync(_scan_cards, ctx, int(params.get("report_at_most", 50)))
    if scan["found"]:
        return Outcome(
            Status.NON_COMPLIANT, f"{len(scan['found'])} card number(s) stored in clear", scan
        )
    return Outcome(
        Status.COMPLIANT,
        f"no card number in {scan['columns']} text column(s), {scan['rows']} row(s)",
        scan,
    )


async def encryption_keys_rotated(ctx: CheckContext, params: Mapping[str, Any]) -> Outcome:
    """The active encryption key is younger than compliance.encryption_key_max_age_days
    (its age is the key file's last append, where the newest key is written)."""
    max_days = int(params.get("max_age_days", ctx.settings.compliance.encryption_key_max_age_days))
    security = ctx.settings.security
    evidence: dict[str, Any] = {"active_key_id": ctx.keyring.active_id, "max_age_days": max_days}
    if ctx.keyring.active_id in security.encryption_keys:
        evidence["source"] = "configuration"
        return Outcome(
            Status.NOT_APPLICABLE,
            "the active key comes from configuration, which records no creation time",
            evidence,
        )
    path = key_file_path(ctx.settings)
    modified = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    age = (ctx.now - modified).total_seconds() / 86_400
    evidence |= {"source": str(path), "written_at": modified.isoformat(), "age_days": round(age, 3)}
    if age > max_days:
        return Outcome(Status.NON_COMPLIANT, f"active key is {age:.0f} days old", evidence)
    return Outcome(Status.COMPLIANT, f"active key is {age:.1f} days old (max {max_days})", evidence)
