"""`shieldx credits …` as a user runs it: verify, rebuild-projections, reseal after a key rotation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import sqlalchemy as sa

from shieldx.credits import tables
from shieldx.credits.ledger.service import CreditsService, Payment
from shieldx.platform import migrations
from shieldx.platform.context import build_context
from shieldx.platform.crypto import append_key, key_file_path
from shieldx.testing.fixtures import settings_for_test

from .conftest import idem, run_service


def _shieldx(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shieldx", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "SHIELDX_LOGGING_LEVEL": "warning"},
    )


def test_verify_rebuild_and_reseal(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = settings_for_test(data_dir)
    ctx = build_context(settings)
    migrations.upgrade(ctx.db)

    async def activity(service: CreditsService) -> None:
        await service.purchase(
            tenant="t", account_id="a", amount=100, grant_type="paid", priority=0, expires_at=None,
            payment=Payment("stripe", "pi_1", "4242", "tok_1"), idem=idem(),
        )  # fmt: skip
        for _ in range(5):
            await service.consume(tenant="t", account_id="a", amount=3, reason="x", idem=idem())

    run_service(ctx, activity)
    ctx.close()

    verified = _shieldx(data_dir, "credits", "verify", "--json")
    assert verified.returncode == 0, verified.stderr
    assert orjson.loads(verified.stdout)["verified_events"] == 7
    rebuilt = _shieldx(data_dir, "credits", "rebuild-projections", "--json")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert orjson.loads(rebuilt.stdout.strip().splitlines()[-1])["events"] == 7

    old_key = build_context(settings).keyring.active_id
    new_key = append_key(key_file_path(settings))
    resealed = _shieldx(data_dir, "credits", "reseal")
    assert resealed.returncode == 0, resealed.stderr
    assert f"with key {new_key}" in resealed.stdout
    ctx = build_context(settings)
    try:
        with ctx.db.read() as conn:
            row = conn.execute(sa.select(tables.payments)).one()
            answer = conn.execute(
                sa.select(tables.command_log.c.response).where(
                    tables.command_log.c.op == "purchase"
                )
            ).scalar_one()
        assert row.key_id == new_key != old_key
        assert b"tok_1" in ctx.keyring.decrypt(row.details, context="credits.payment:a")
        # The purchase's stored answer (it repeats the payment reference) moved to the new key.
        assert ctx.keyring.key_id_of(answer) == new_key
        assert b"pi_1" in ctx.keyring.decrypt(answer, context="credits.command_log:t")
        with ctx.db.write() as conn:
            conn.execute(sa.text("UPDATE event_store SET amount = 4 WHERE position = 5"))
    finally:
        ctx.close()
    broken = _shieldx(data_dir, "credits", "verify")
    assert broken.returncode == 1 and "BROKEN at position 5" in broken.stdout
