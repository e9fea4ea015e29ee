"""Fixtures for the sharding tests: a platform context configured with four shards, as SQLite
files under the data dir and as PostgreSQL databases of the throwaway cluster."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from shieldx.config import Settings
from shieldx.platform import migrations
from shieldx.platform.context import PlatformContext, build_context
from shieldx.platform.postgres_local import ThrowawayPostgres

SHARDS = ("shard-0", "shard-1", "shard-2", "shard-3")


@pytest.fixture(params=["sqlite", "postgres"])
def sharded_ctx(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings]
) -> Iterator[PlatformContext]:
    """A migrated coordinator database and four shards, on each backend in turn."""
    if request.param == "sqlite":
        yield from _context(make_settings(sharding={"num_shards": 4}, credits=_fast()))
        return
    cluster: ThrowawayPostgres = request.getfixturevalue("pg_cluster")
    names = [f"t_{secrets.token_hex(6)}" for _ in range(len(SHARDS) + 1)]
    urls = [cluster.create_database(name) for name in names]
    try:
        shards = [{"name": n, "url": u} for n, u in zip(SHARDS, urls[1:], strict=True)]
        settings = make_settings(
            database={"url": urls[0]}, sharding={"shards": shards}, credits=_fast()
        )
        yield from _context(settings)
    finally:
        for name in names:
            cluster.drop_database(name)


def _context(settings: Settings) -> Iterator[PlatformContext]:
    ctx = build_context(settings)
    migrations.upgrade(ctx.db)
    try:
        yield ctx
    finally:
        ctx.close()


def _fast() -> dict[str, Any]:
    # Four commit processes on two shared cores: threads keep the test light.
    return {"commit_process": False}
