"""A TOTP second factor for admin operations (security.admin_mfa), over real loopback HTTP on
both backends: enrolment, confirmation, codes accepted once, refusals that change nothing."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pyotp
import pytest
import sqlalchemy as sa

from shieldx.config import Settings
from shieldx.locator.component import component as locator_component
from shieldx.platform import migrations
from shieldx.platform.app import create_app
from shieldx.platform.context import PlatformContext, build_context
from shieldx.platform.mfa import PERIOD, matching_step
from shieldx.platform.roles import Role
from shieldx.testing.live import LiveServer

Started = tuple[LiveServer, PlatformContext]


@pytest.fixture
def locator_on(
    backend_url: str, make_settings: Callable[..., Settings]
) -> Iterator[Callable[..., Started]]:
    """The locator service (platform admin routes plus key rotation) on each backend."""
    started: list[Started] = []

    def start(**security: object) -> Started:
        settings = make_settings(database={"url": backend_url}, security=security)
        ctx = build_context(settings)
        migrations.upgrade(ctx.db)
        live = LiveServer(create_app(ctx, "locator", locator_component)).__enter__()
        started.append((live, ctx))
        return live, ctx

    yield start
    for live, ctx in started:
        live.__exit__(None, None, None)
        ctx.close()


def _admin(ctx: PlatformContext) -> dict[str, str]:
    _, key = ctx.api_keys.create(role=Role.ADMIN, name="root")
    return {"Authorization": f"Bearer {key}"}


def _code(secret: str, steps_ahead: int = 0) -> str:
    return pyotp.TOTP(secret).generate_otp(int(time.time()) // PERIOD + steps_ahead)


def _keys(ctx: PlatformContext) -> int:
    return len(ctx.api_keys.list(include_revoked=True))


def _type(response: httpx.Response) -> str:
    assert response.headers["content-type"] == "application/problem+json", response.text
    return str(response.json()["type"]).rsplit("/", 1)[-1]


def test_admin_operations_need_a_fresh_code_when_admin_mfa_is_on(
    locator_on: Callable[..., Started],
) -> None:
    live, ctx = locator_on(admin_mfa=True)
    admin = _admin(ctx)
    with httpx.Client(base_url=live.url, headers=admin) as http:
        before = _keys(ctx)
        refused = http.post("/admin/keys", json={"role": "auditor"})
        assert refused.status_code == 403 and _type(refused) == "mfa-required"
        no_factor = http.post("/admin/keys", json={"role": "auditor"}, headers={"ShieldX-OTP": "1"})
        assert no_factor.status_code == 403 and _type(no_factor) == "mfa-not-enrolled"
        assert "/admin/mfa/enroll" in no_factor.json()["detail"]
        assert _keys(ctx) == before

        enrolled = http.post("/admin/mfa/enroll")
        assert enrolled.status_code == 201, enrolled.text
        secret = enrolled.json()["secret"]
        assert enrolled.json()["otpauth_uri"].startswith("otpauth://totp/ShieldX:")
        assert http.get("/admin/mfa").json()["factor"] == "pending"
        pending = http.post(
            "/admin/keys", json={"role": "auditor"}, headers={"ShieldX-OTP": _code(secret)}
        )
        assert _type(pending) == "mfa-not-enrolled"  # a factor counts once confirmed

        wrong = http.post("/admin/mfa/confirm", json={"code": "000000"})
        if matching_step(secret, "000000", time.time()) is None:
            assert wrong.status_code == 403 and _type(wrong) == "mfa-invalid"
        assert http.post("/admin/mfa/confirm", json={"code": _code(secret)}).status_code == 200
        assert http.get("/admin/mfa").json() == {
            "key_id": http.get("/whoami").json()["key_id"],
            "factor": "active",
            "required": True,
        }

        # The confirming code's step is spent: the same code (and older ones) are replays.
        replay = http.post(
            "/admin/keys", json={"role": "auditor"}, headers={"ShieldX-OTP": _code(secret)}
        )
        assert replay.status_code == 403 and _type(replay) == "mfa-replayed"
        assert _keys(ctx) == before

        fresh = _code(secret, steps_ahead=1)  # the next step is inside the accepted window
        created = http.post("/admin/keys", json={"role": "auditor"}, headers={"ShieldX-OTP": fresh})
        assert created.status_code == 201, created.text
        assert _keys(ctx) == before + 1
        again = http.delete(f"/admin/keys/{created.json()['id']}", headers={"ShieldX-OTP": fresh})
        assert again.status_code == 403 and _type(again) == "mfa-replayed"
        assert ctx.api_keys.list()[-1].id == created.json()["id"]  # not revoked

        rotate = http.post("/admin/keys/rotate")
        assert rotate.status_code == 403 and _type(rotate) == "mfa-required"
        bad = http.post("/admin/keys/rotate", headers={"ShieldX-OTP": "12345x"})
        assert bad.status_code == 403 and _type(bad) == "mfa-invalid"
        # Reading needs no second factor.
        assert http.get("/admin/keys").status_code == 200


def test_the_secret_is_sealed_at_rest_and_removal_needs_a_code(
    locator_on: Callable[..., Started],
) -> None:
    live, ctx = locator_on(admin_mfa=True)
    with httpx.Client(base_url=live.url, headers=_admin(ctx)) as http:
        secret = http.post("/admin/mfa/enroll").json()["secret"]
        with ctx.db.read() as conn:
            stored = conn.execute(sa.text("SELECT secret FROM mfa_factors")).scalar_one()
        assert secret not in stored and stored.startswith("v1.")
        assert http.post("/admin/mfa/confirm", json={"code": _code(secret)}).status_code == 200
        twice = http.post("/admin/mfa/enroll")
        assert twice.status_code == 409 and _type(twice) == "mfa-already-enrolled"
        refused = http.delete("/admin/mfa", headers={"ShieldX-OTP": _code(secret)})
        assert refused.status_code == 403 and _type(refused) == "mfa-replayed"
        removed = http.delete("/admin/mfa", headers={"ShieldX-OTP": _code(secret, 1)})
        assert removed.status_code == 204
        assert http.get("/admin/mfa").json()["factor"] == "none"


def test_without_admin_mfa_no_code_is_asked(locator_on: Callable[..., Started]) -> None:
    live, ctx = locator_on()
    with httpx.Client(base_url=live.url, headers=_admin(ctx)) as http:
        assert http.post("/admin/keys", json={"role": "auditor"}).status_code == 201
        assert http.post("/admin/keys/rotate").status_code == 200
        assert http.get("/admin/mfa").json()["required"] is False


@pytest.mark.parametrize("code", ["", "12345", "1234567", "١٢٣٤٥٦", "abcdef"])
def test_a_malformed_code_never_matches(code: str) -> None:
    assert matching_step(pyotp.random_base32(), code, time.time()) is None
