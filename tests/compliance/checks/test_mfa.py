"""The admin_mfa_enforced check against a real locator listener: off, on without a factor,
on with every admin key enrolled."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable

import httpx
import pyotp

from shieldx.compliance.checks.access import admin_mfa_enforced
from shieldx.compliance.checks.context import CheckContext
from shieldx.compliance.checks.domain import Outcome, Status
from shieldx.config import Settings
from shieldx.locator.component import component as locator_component
from shieldx.platform import migrations
from shieldx.platform.app import create_app
from shieldx.platform.context import PlatformContext, build_context
from shieldx.platform.mfa import PERIOD
from shieldx.platform.roles import Role
from shieldx.testing.live import LiveServer


def _assess(ctx: PlatformContext, url: str, key: str) -> Outcome:
    async def run() -> Outcome:
        async with httpx.AsyncClient() as http:
            check_ctx = CheckContext(
                settings=ctx.settings,
                db=ctx.db,
                keyring=ctx.keyring,
                targets={"locator": url},
                http=http,
                api_key=key,
                now=dt.datetime.now(dt.UTC),
                limiters={},
            )
            return await admin_mfa_enforced(check_ctx, {})

    return asyncio.run(run())


def _started(make_settings: Callable[..., Settings], mfa: bool) -> tuple[PlatformContext, str]:
    ctx = build_context(make_settings(security={"admin_mfa": mfa}))
    migrations.upgrade(ctx.db)
    return ctx, ctx.api_keys.create(role=Role.ADMIN, name="root")[1]


def test_off_is_non_compliant(make_settings: Callable[..., Settings]) -> None:
    ctx, key = _started(make_settings, mfa=False)
    with LiveServer(create_app(ctx, "locator", locator_component)) as live:
        outcome = _assess(ctx, live.url, key)
    ctx.close()
    assert outcome.status is Status.NON_COMPLIANT
    assert outcome.evidence["security.admin_mfa"] is False


def test_on_is_compliant_once_every_admin_key_has_a_factor(
    make_settings: Callable[..., Settings],
) -> None:
    ctx, key = _started(make_settings, mfa=True)
    keys_before = len(ctx.api_keys.list())
    with LiveServer(create_app(ctx, "locator", locator_component)) as live:
        pending = _assess(ctx, live.url, key)
        assert pending.status is Status.NON_COMPLIANT
        assert pending.evidence["probe_without_code"] == {"locator": "403 mfa-required"}
        assert len(pending.evidence["admin_keys_without_factor"]) == 1
        auth = {"Authorization": f"Bearer {key}"}
        secret = httpx.post(live.url + "/admin/mfa/enroll", headers=auth).json()["secret"]
        code = pyotp.TOTP(secret).generate_otp(int(time.time()) // PERIOD)
        confirmed = httpx.post(live.url + "/admin/mfa/confirm", json={"code": code}, headers=auth)
        assert confirmed.status_code == 200, confirmed.text
        enrolled = _assess(ctx, live.url, key)
    assert enrolled.status is Status.COMPLIANT, enrolled
    assert len(ctx.api_keys.list()) == keys_before  # the probes created nothing
    ctx.close()
