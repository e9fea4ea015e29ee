"""pytest fixtures shared by every test package (loaded from tests/conftest.py)."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from shieldx.config import Settings, deep_merge, load_settings
from shieldx.platform import migrations
from shieldx.platform.context import PlatformContext, build_context
from shieldx.platform.db import Database, create_database
from shieldx.platform.postgres_local import PostgresUnavailable, ThrowawayPostgres

REPO_ROOT = Path(__file__).resolve().parents[3]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def need_tool(command: str, package: str | None = None) -> str:
    """Path of COMMAND; in CI install its Debian package, elsewhere skip saying what to install."""
    found = shutil.which(command)
    if found:
        return found
    package = package or command
    installer = REPO_ROOT / "scripts" / "install-system-deps"
    if IN_CI and installer.exists():
        subprocess.run([str(installer)], check=True)
        found = shutil.which(command)
        if found:
            return found
        pytest.fail(f"{command} is still missing after scripts/install-system-deps")
    pytest.skip(
        f"{command} not installed: apt-get install -y {package} (or scripts/install-system-deps)"
    )


def settings_for_test(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a test: defaults, a private data dir, no environment, OVERRIDES on top."""
    base: dict[str, Any] = {"data_dir": str(data_dir), "logging": {"level": "warning"}}
    return load_settings(None, environ={}, overrides=deep_merge(base, overrides))


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[ThrowawayPostgres]:
    """One throwaway PostgreSQL cluster for the whole run."""
    try:
        cluster = ThrowawayPostgres()
    except PostgresUnavailable as exc:
        if IN_CI:
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(pg_cluster: ThrowawayPostgres) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    name = f"t_{secrets.token_hex(6)}"
    url = pg_cluster.create_database(name)
    try:
        yield url
    finally:
        pg_cluster.drop_database(name)


@pytest.fixture(params=["sqlite", "postgres"])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database URL on each backend in turn (the test runs once per backend)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Build test settings with a private data directory and overrides."""

    def make(**overrides: Any) -> Settings:
        return settings_for_test(tmp_path / "data", **overrides)

    return make


@pytest.fixture
def database(backend_url: str, make_settings: Callable[..., Settings]) -> Iterator[Database]:
    """A migrated database on each backend in turn."""
    settings = make_settings(database={"url": backend_url})
    db = create_database(settings)
    migrations.upgrade(db)
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture
def platform_ctx(make_settings: Callable[..., Settings]) -> Iterator[PlatformContext]:
    """A platform context on a migrated SQLite file."""
    ctx = build_context(make_settings())
    migrations.upgrade(ctx.db)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def ctx_on_backend(
    backend_url: str, make_settings: Callable[..., Settings]
) -> Iterator[PlatformContext]:
    """A platform context on a migrated database of each backend in turn."""
    ctx = build_context(make_settings(database={"url": backend_url}))
    migrations.upgrade(ctx.db)
    try:
        yield ctx
    finally:
        ctx.close()
