"""database_migrations: every applied migration, with the backup taken before it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from shieldx.platform import migrations
from shieldx.platform.context import build_context
from shieldx.platform.roles import Role
from shieldx.testing.fixtures import settings_for_test


def test_the_migration_matches_the_table_definition(tmp_path: Path) -> None:
    ctx = build_context(settings_for_test(tmp_path / "data"))
    migrations.upgrade(ctx.db)
    with ctx.db.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), migrations.metadata)
    assert [d for d in diffs if "'database_migrations'" in repr(d)] == []
    ctx.close()


def test_every_applied_migration_is_recorded_with_its_backup(
    backend_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    ctx = build_context(settings_for_test(data_dir, database={"url": backend_url}))
    migrations.upgrade(ctx.db)
    first = migrations.recorded(ctx.db)
    # A fresh database: every revision, no backup (there was nothing to back up).
    assert {r["revision"] for r in first} == migrations.applied(ctx.db)
    assert all(r["backup"] is None for r in first)
    shadow = next(r for r in first if r["revision"] == "shadow_0003")
    assert shadow["branch"] == "shadow" and "environments" in str(shadow["description"])
    ctx.api_keys.create(role=Role.ADMIN, name="ops")
    migrations.downgrade(ctx.db, "shadow_0002")
    assert "shadow_0003" not in {r["revision"] for r in migrations.recorded(ctx.db)}
    ctx.close()

    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIELDX_")}
    env |= {"SHIELDX_DATA_DIR": str(data_dir), "SHIELDX_DATABASE_URL": backend_url}
    upgraded = subprocess.run(
        [sys.executable, "-m", "shieldx", "db", "upgrade"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert upgraded.returncode == 0, upgraded.stderr
    (backup,) = sorted((data_dir / "backups").iterdir())
    ctx = build_context(settings_for_test(data_dir, database={"url": backend_url}))
    rows = {r["revision"]: r for r in migrations.recorded(ctx.db)}
    assert rows["shadow_0003"]["backup"] == str(backup)
    assert rows["platform_0001"]["backup"] is None  # applied before, kept as it was
    ctx.close()
