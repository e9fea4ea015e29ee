"""Fixtures for the sharding tests: a platform context configured with four SQLite shards."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from shieldx.config import Settings
from shieldx.platform import migrations
from shieldx.platform.context import PlatformContext, build_context


@pytest.fixture
def sharded_ctx(make_settings: Callable[..., Settings]) -> Iterator[PlatformContext]:
    """A migrated coordinator database and sharding.num_shards = 4 (SQLite files)."""
    ctx = build_context(make_settings(sharding={"num_shards": 4}, credits=_fast()))
    migrations.upgrade(ctx.db)
    try:
        yield ctx
    finally:
        ctx.close()


def _fast() -> dict[str, Any]:
    # Four commit processes on two shared cores: threads keep the test light.
    return {"commit_process": False}
