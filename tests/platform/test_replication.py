"""database_replication_lag_{seconds,bytes}{standby}: a real PostgreSQL primary and a streaming
standby (pg_basebackup -R) on loopback; the standby's replay is paused to make it lag."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable, Iterator

import httpx
import psycopg
import pytest

from shieldx.config import Settings
from shieldx.platform.app import create_app
from shieldx.platform.context import build_context
from shieldx.platform.postgres_local import PostgresUnavailable, ThrowawayPostgres, _free_port
from shieldx.testing.fixtures import IN_CI
from shieldx.testing.live import LiveServer


class Standby:
    """A streaming standby of PRIMARY, in PRIMARY's directory, named standby1."""

    def __init__(self, primary: ThrowawayPostgres) -> None:
        self.primary = primary
        self.datadir = primary.root / "standby"
        self.port = _free_port()

    def start(self) -> None:
        """Base backup with a standby configuration (-R), then start it."""
        p = self.primary
        p._run(
            str(p.bindir / "pg_basebackup"),
            "-D", str(self.datadir),
            "-R", "-X", "stream",
            "-h", "127.0.0.1", "-p", str(p.port), "-U", "postgres",
        )  # fmt: skip
        options = (
            f"-p {self.port} -k {p.root} -c listen_addresses=127.0.0.1 "
            "-c cluster_name=standby1 -c hot_standby=on -c wal_receiver_status_interval=1 "
            "-c max_connections=200"
        )
        p._run(
            str(p.bindir / "pg_ctl"),
            "-D", str(self.datadir),
            "-o", options,
            "-l", str(p.root / "standby.log"),
            "-w", "start",
        )  # fmt: skip

    def stop(self) -> None:
        """Stop the standby."""
        self.primary._run(
            str(self.primary.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "stop"
        )

    def sql(self, statement: str) -> None:
        """Run STATEMENT on the standby."""
        dsn = f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(statement)


@pytest.fixture
def replicated() -> Iterator[tuple[ThrowawayPostgres, Standby]]:
    """A primary with one streaming standby, both removed afterwards."""
    try:
        primary = ThrowawayPostgres()
    except PostgresUnavailable as exc:
        if IN_CI:
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    primary.start()
    standby = Standby(primary)
    started = False
    try:
        standby.start()
        started = True
        yield primary, standby
    finally:
        try:
            if started:
                standby.stop()
        finally:
            primary.stop()
            shutil.rmtree(primary.root, ignore_errors=True)


def _lag(metrics: str) -> tuple[float | None, float | None]:
    def value(name: str) -> float | None:
        match = re.search(rf'^{name}{{standby="standby1"}} (\S+)$', metrics, re.M)
        return float(match.group(1)) if match else None

    return value("database_replication_lag_bytes"), value("database_replication_standbys")


def test_lag_of_a_paused_standby_shows_and_clears(
    replicated: tuple[ThrowawayPostgres, Standby], make_settings: Callable[..., Settings]
) -> None:
    primary, standby = replicated
    ctx = build_context(make_settings(database={"url": primary.url()}))
    try:
        with LiveServer(create_app(ctx, "credits")) as server:

            def scrape() -> str:
                return httpx.get(server.url + "/metrics", timeout=10).text

            def until(condition: Callable[[str], bool], what: str) -> str:
                deadline = time.monotonic() + 30
                while True:
                    text = scrape()
                    if condition(text):
                        return text
                    if time.monotonic() > deadline:
                        raise AssertionError(
                            f"{what}: {[x for x in text.splitlines() if 'replication' in x]}"
                        )
                    time.sleep(0.1)

            until(lambda t: "database_replication_standbys 1.0" in t, "the standby streams")
            standby.sql("SELECT pg_wal_replay_pause()")
            dsn = f"host=127.0.0.1 port={primary.port} user=postgres dbname=postgres"
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("CREATE TABLE filler AS SELECT g FROM generate_series(1, 50000) g")
            lagging = until(lambda t: (_lag(t)[0] or 0) > 100_000, "the paused standby lags")
            assert 'database_replication_lag_seconds{standby="standby1"}' in lagging
            standby.sql("SELECT pg_wal_replay_resume()")
            until(lambda t: _lag(t)[0] == 0.0, "the standby caught up")
    finally:
        ctx.close()


def test_sqlite_lists_the_families_without_samples(make_settings: Callable[..., Settings]) -> None:
    ctx = build_context(make_settings())
    try:
        with LiveServer(create_app(ctx, "credits")) as server:
            text = httpx.get(server.url + "/metrics").text
    finally:
        ctx.close()
    assert "# TYPE database_replication_lag_seconds gauge" in text
    assert "\ndatabase_replication_standbys " not in text
