"""`shieldx db backup | restore | upgrade | downgrade` as a user runs them, on both backends."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from shieldx.credits import tables
from shieldx.credits.ledger.ids import new_id
from shieldx.credits.ledger.service import CreditsService, Idempotency, Payment, fingerprint
from shieldx.platform import migrations
from shieldx.platform.context import PlatformContext, build_context
from shieldx.platform.roles import Role
from shieldx.testing.fixtures import settings_for_test


def _shieldx(data_dir: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIELDX_")}
    env |= {
        "SHIELDX_DATA_DIR": str(data_dir),
        "SHIELDX_DATABASE_URL": url,
        "SHIELDX_LOGGING_LEVEL": "warning",
    }
    return subprocess.run(
        [sys.executable, "-m", "shieldx", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def _idem(op: str, **payload: Any) -> Idempotency:
    return Idempotency(new_id("k"), fingerprint(op, "t", payload))


def _ledger_activity(ctx: PlatformContext, consumes: int, account: str = "a") -> None:
    async def main() -> None:
        service = CreditsService(ctx)
        await service.start()
        try:
            await service.purchase(
                tenant="t", account_id=account, amount=100, grant_type="paid", priority=0,
                expires_at=None, payment=Payment("stripe", new_id("pi"), "4242", "tok"),
                idem=_idem("purchase"),
            )  # fmt: skip
            for _ in range(consumes):
                await service.consume(
                    tenant="t", account_id=account, amount=7, reason="use", idem=_idem("consume")
                )
        finally:
            await service.stop()

    asyncio.run(main())


def _snapshot(ctx: PlatformContext) -> dict[str, Any]:
    """Every ledger row that defines the ledger (events, balances, grants) and the API keys."""
    with ctx.db.read() as conn:
        events = conn.execute(
            sa.select(tables.event_store).order_by(tables.event_store.c.position)
        ).all()
        balances = conn.execute(
            sa.text("SELECT * FROM credit_balances_read_model ORDER BY tenant, account_id")
        ).all()
        grants = conn.execute(sa.text("SELECT * FROM credit_grants ORDER BY 1")).all()
        keys = conn.execute(sa.text("SELECT id, role, key_hash FROM api_keys ORDER BY id")).all()
    return {
        "events": [tuple(row) for row in events],
        "balances": [tuple(row) for row in balances],
        "grants": [tuple(row) for row in grants],
        "keys": [tuple(row) for row in keys],
    }


def _state(data_dir: Path, url: str) -> dict[str, Any]:
    ctx = build_context(settings_for_test(data_dir, database={"url": url}))
    try:
        return _snapshot(ctx)
    finally:
        ctx.close()


def test_restore_reproduces_the_ledger_exactly(backend_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    ctx = build_context(settings_for_test(data_dir, database={"url": backend_url}))
    migrations.upgrade(ctx.db)
    ctx.api_keys.create(role=Role.ADMIN, name="ops")
    _ledger_activity(ctx, consumes=4)
    ctx.close()
    before = _state(data_dir, backend_url)
    assert len(before["events"]) == 6 and before["balances"] and before["keys"]

    target = tmp_path / "ledger.backup"
    made = _shieldx(data_dir, backend_url, "db", "backup", "--output", str(target))
    assert made.returncode == 0, made.stderr
    assert f"backup: {target}" in made.stdout and target.stat().st_size > 0

    ctx = build_context(settings_for_test(data_dir, database={"url": backend_url}))
    _ledger_activity(ctx, consumes=2)
    _ledger_activity(ctx, consumes=1, account="b")
    ctx.api_keys.create(role=Role.OPERATOR, name="later")
    ctx.close()
    changed = _state(data_dir, backend_url)
    assert len(changed["events"]) == 12 and changed != before

    refused = _shieldx(data_dir, backend_url, "db", "restore", str(target))
    assert refused.returncode == 1 and "--yes" in refused.stderr
    assert "replaces everything" in refused.stderr
    assert _state(data_dir, backend_url) == changed  # a refusal changes nothing

    restored = _shieldx(data_dir, backend_url, "db", "restore", "--yes", str(target))
    assert restored.returncode == 0, restored.stderr
    assert _state(data_dir, backend_url) == before
    verified = _shieldx(data_dir, backend_url, "credits", "verify", "--deep", "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert orjson.loads(verified.stdout)["verified_events"] == 6


def test_upgrade_backs_up_first_when_migrations_are_pending(
    backend_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    ctx = build_context(settings_for_test(data_dir, database={"url": backend_url}))
    migrations.upgrade(ctx.db)
    ctx.api_keys.create(role=Role.ADMIN, name="ops")
    migrations.downgrade(ctx.db, "platform_0001")
    behind = sorted(migrations.current(ctx.db))
    ctx.close()

    upgraded = _shieldx(data_dir, backend_url, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    backups = sorted((data_dir / "backups").iterdir())
    assert len(backups) == 1 and f"backup: {backups[0]}" in upgraded.stdout
    assert "platform_0001" in backups[0].name
    if backend_url.startswith("sqlite"):
        with sqlite3.connect(backups[0]) as conn:
            held = {row[0] for row in conn.execute("SELECT version_num FROM alembic_version")}
        assert sorted(held) == behind  # the copy is of the database before the migration
        assert conn.execute("SELECT count(*) FROM api_keys").fetchone() == (1,)
        conn.close()

    again = _shieldx(data_dir, backend_url, "db", "upgrade")
    assert again.returncode == 0 and "backup:" not in again.stdout  # nothing pending
    assert len(list((data_dir / "backups").iterdir())) == 1


def test_downgrade_that_drops_tables_needs_yes(backend_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    ctx = build_context(settings_for_test(data_dir, database={"url": backend_url}))
    migrations.upgrade(ctx.db)
    ctx.api_keys.create(role=Role.ADMIN, name="ops")
    heads = migrations.current(ctx.db)
    ctx.close()

    refused = _shieldx(data_dir, backend_url, "db", "downgrade", "credits@base")
    assert refused.returncode == 1
    assert "api_keys (1 rows)" in refused.stderr and "--yes" in refused.stderr
    ctx = build_context(settings_for_test(data_dir, database={"url": backend_url}))
    try:  # the dry run changed nothing
        assert migrations.current(ctx.db) == heads
        with ctx.db.read() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM api_keys")).scalar_one() == 1
    finally:
        ctx.close()

    done = _shieldx(data_dir, backend_url, "db", "downgrade", "credits@base", "--yes")
    assert done.returncode == 0, done.stderr
    assert "backup:" in done.stdout and "database at: base" in done.stdout
    assert len(list((data_dir / "backups").iterdir())) == 1


def test_restore_refuses_a_file_that_is_not_a_backup(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    url = f"sqlite:///{data_dir / 'shieldx.db'}"
    assert _shieldx(data_dir, url, "db", "upgrade").returncode == 0
    bogus = tmp_path / "notes.txt"
    bogus.write_text("not a database", encoding="utf-8")
    refused = _shieldx(data_dir, url, "db", "restore", "--yes", str(bogus))
    assert refused.returncode == 1 and "is not a SQLite backup" in refused.stderr
    missing = _shieldx(data_dir, url, "db", "restore", "--yes", str(tmp_path / "none"))
    assert missing.returncode == 1 and "no backup file at" in missing.stderr


def test_start_with_auto_migrate_backs_up_before_pending_migrations(tmp_path: Path) -> None:
    from shieldx.platform.bootstrap import prepare

    settings = settings_for_test(tmp_path / "data")
    ctx = build_context(settings)
    migrations.upgrade(ctx.db)
    migrations.downgrade(ctx.db, "platform_0001")
    ctx.close()
    prepared = prepare(settings, {})
    try:
        assert migrations.is_current(prepared.ctx.db)
    finally:
        prepared.ctx.close()
    made = list((tmp_path / "data" / "backups").iterdir())
    assert len(made) == 1 and "platform_0001" in made[0].name
    prepare(settings, {}).ctx.close()  # current now: no second backup
    assert len(list((tmp_path / "data" / "backups").iterdir())) == 1
