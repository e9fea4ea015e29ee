"""Deep verification (snapshots and balance rows against the events) and recovery from a
snapshot that disagrees with the events."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa

import shieldx
from shieldx.config import Settings
from shieldx.credits import tables
from shieldx.credits.ledger.service import CreditsService
from shieldx.platform import migrations
from shieldx.platform.context import PlatformContext, build_context
from shieldx.testing.fixtures import settings_for_test

from ..conftest import Api, idem, run_service, serve_credits

VERIFY = "/credits/audit/verify"
SRC = str(Path(shieldx.__file__).resolve().parents[1])


@pytest.fixture
def snappy_ctx(
    backend_url: str, make_settings: Callable[..., Settings]
) -> Iterator[PlatformContext]:
    """A context whose accounts are snapshotted every 3 versions."""
    settings = make_settings(database={"url": backend_url}, event_sourcing={"snapshot_interval": 3})
    ctx = build_context(settings)
    migrations.upgrade(ctx.db)
    try:
        yield ctx
    finally:
        ctx.close()


def _ok(response: httpx.Response) -> dict[str, Any]:
    """The parsed JSON object of a 200/201 answer."""
    assert response.status_code in (200, 201), response.text
    body = response.json()
    assert isinstance(body, dict)
    return body


def _activity(api: Api) -> None:
    """Purchases (one expiring), holds committed and cancelled, consumes: every state kind."""
    _ok(api.post("/credits/purchase", {"account_id": "acct", "amount": 100}))
    far = "2999-01-01T00:00:00Z"
    _ok(api.post("/credits/purchase", {"account_id": "acct", "amount": 7, "expires_at": far}))
    hold = _ok(
        api.post("/credits/reserve", {"account_id": "acct", "amount": 20, "ttl_seconds": 600})
    )
    _ok(api.post("/credits/commit", {"reservation_id": hold["reservation_id"], "amount": 5}))
    open_hold = {"account_id": "acct", "amount": 4, "ttl_seconds": 600}
    _ok(api.post("/credits/reserve", open_hold))  # version 6: snapshotted, and the head
    for n in range(4):
        _ok(api.post("/credits/purchase", {"account_id": f"other-{n}", "amount": 50}))
        _ok(api.post("/credits/consume", {"account_id": f"other-{n}", "amount": 1, "reason": "x"}))


def _snapshot(ctx: PlatformContext, account: str) -> tuple[int, dict[str, object]]:
    s = tables.aggregate_snapshots
    with ctx.db.read() as conn:
        version, state = conn.execute(
            sa.select(s.c.version, s.c.state)
            .where(s.c.account_id == account)
            .order_by(s.c.version.desc())
            .limit(1)
        ).one()
    return int(version), orjson.loads(state)


def _tamper(ctx: PlatformContext) -> None:
    """Add 1000 to acct's latest snapshot and to other-1's balance row."""
    version, state = _snapshot(ctx, "acct")
    state["balance"] = int(state["balance"]) + 1000  # type: ignore[call-overload]
    s, b = tables.aggregate_snapshots, tables.balances
    with ctx.db.write() as conn:
        conn.execute(
            sa.update(s)
            .where(s.c.account_id == "acct", s.c.version == version)
            .values(state=orjson.dumps(state).decode())
        )
        conn.execute(
            sa.update(b).where(b.c.account_id == "other-1").values(balance=b.c.balance + 1000)
        )


def test_deep_verify_reports_an_edited_snapshot_and_balance_row_with_their_account(
    snappy_ctx: PlatformContext,
) -> None:
    with serve_credits(snappy_ctx) as api:
        _activity(api)
        clean = _ok(api.post(VERIFY, {"deep": True}, as_="admin", key=None))
        assert clean["ok"] and clean["mismatches"] == [], clean
    assert _snapshot(snappy_ctx, "acct")[0] == 6  # the snapshot is the stream's head
    _tamper(snappy_ctx)
    with serve_credits(snappy_ctx) as api:
        assert _ok(api.post(VERIFY, {}, as_="admin", key=None))["ok"]  # the chain is intact
        deep = _ok(api.post(VERIFY, {"deep": True}, as_="admin", key=None))
        assert deep["ok"] is False
        found = {(m["kind"], m["tenant"], m["account_id"]) for m in deep["mismatches"]}
        assert found == {
            ("snapshot", "tenant-a", "acct"),
            ("balance", "tenant-a", "other-1"),
        }
        assert "tenant-a/" in deep["reason"]


def test_edited_derived_rows_do_not_wedge_their_accounts(snappy_ctx: PlatformContext) -> None:
    with serve_credits(snappy_ctx) as api:
        _activity(api)
        expected = _ok(api.get("/credits/balance/acct"))
    _tamper(snappy_ctx)
    b = tables.balances
    with snappy_ctx.db.write() as conn:  # other-2's row points loading at nothing
        conn.execute(
            sa.update(b).where(b.c.account_id == "other-2").values(version=77, last_position=10**9)
        )
    with serve_credits(snappy_ctx) as api:  # a fresh writer loads acct from its snapshot
        for n in range(5):
            use = {"account_id": "acct", "amount": 1, "reason": f"after-{n}"}
            answer = api.post("/credits/consume", use)
            assert answer.status_code == 200, answer.text
            assert "1000" not in answer.text
        assert answer.json()["balance"] == int(expected["balance"]) - 5
        # A fresh snapshot from the events supersedes the edited one.
        version, state = _snapshot(snappy_ctx, "acct")
        assert version > 6 and state["balance"] == int(expected["balance"]) - (version - 6)
        for account in ("other-1", "other-2"):
            use = {"account_id": account, "amount": 1, "reason": "after"}
            answer = api.post("/credits/consume", use)
            assert answer.status_code == 200, answer.text
            assert answer.json()["balance"] == 48
            row = _ok(api.get(f"/credits/balance/{account}"))
            assert (row["balance"], row["version"]) == (48, 4)
        clean = _ok(api.post(VERIFY, {"deep": True}, as_="admin", key=None))
        assert {m["account_id"] for m in clean["mismatches"]} == {"acct"}  # the old snapshot
        now = _ok(api.get("/credits/balance/acct"))
        assert (now["balance"], now["held"]) == (int(expected["balance"]) - 5, expected["held"])


def test_cli_verify_deep(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = settings_for_test(data_dir, event_sourcing={"snapshot_interval": 2})
    ctx = build_context(settings)
    migrations.upgrade(ctx.db)

    async def activity(service: CreditsService) -> None:
        await service.purchase(
            tenant="t", account_id="a", amount=100, grant_type="paid", priority=0,
            expires_at=None, payment=None, idem=idem(),
        )  # fmt: skip
        for _ in range(2):
            await service.consume(tenant="t", account_id="a", amount=3, reason="x", idem=idem())

    run_service(ctx, activity)
    _tamper_named(ctx, "a")
    ctx.close()

    def shieldx(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "shieldx",
                "credits",
                "verify",
                *args,
                "--data-dir",
                str(data_dir),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            # The shieldx under test, wherever it was imported from.
            env={"PATH": "/usr/bin:/bin", "SHIELDX_LOGGING_LEVEL": "warning", "PYTHONPATH": SRC},
        )

    assert shieldx().returncode == 0
    deep = shieldx("--deep")
    assert deep.returncode == 1, deep.stdout + deep.stderr
    assert "snapshot t/a" in deep.stdout
    reversed_range = shieldx("--from", "3", "--to", "2")
    assert reversed_range.returncode == 2 and "is after to_position" in reversed_range.stderr


def _tamper_named(ctx: PlatformContext, account: str) -> None:
    version, state = _snapshot(ctx, account)
    state["balance"] = int(state["balance"]) - 1  # type: ignore[call-overload]
    s = tables.aggregate_snapshots
    with ctx.db.write() as conn:
        conn.execute(
            sa.update(s)
            .where(s.c.account_id == account, s.c.version == version)
            .values(state=orjson.dumps(state).decode())
        )
