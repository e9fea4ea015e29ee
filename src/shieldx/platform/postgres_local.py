"""A throwaway PostgreSQL cluster started from the local binaries (initdb + pg_ctl)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg
from psycopg import sql


class PostgresUnavailable(Exception):
    """The PostgreSQL server binaries are not installed."""


def find_bindir() -> Path:
    """The directory holding initdb and pg_ctl."""
    initdb = shutil.which("initdb")
    if initdb:
        return Path(os.path.realpath(initdb)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if candidates:
        return Path(candidates[-1]).parent
    raise PostgresUnavailable("PostgreSQL server binaries not found: apt-get install -y postgresql")


class ThrowawayPostgres:
    """A private cluster on a free port in a temporary directory, deleted on stop().

    PostgreSQL refuses to run as root, so when we are root the cluster belongs to the
    'postgres' system user and its commands run through runuser.
    """

    def __init__(self) -> None:
        self.bindir = find_bindir()
        self.root = Path(tempfile.mkdtemp(prefix="shieldx-pg-"))
        self.datadir = self.root / "data"
        self.port = _free_port()
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        subprocess.run(
            [*self._as_user, *args], check=True, capture_output=True, cwd=self.root, timeout=120
        )

    def start(self) -> None:
        """initdb and start the server, waiting until it accepts connections."""
        self._run(
            str(self.bindir / "initdb"),
            "-D", str(self.datadir),
            "-U", "postgres",
            "--auth=trust",
            "-E", "UTF8",
            "--no-sync",
        )  # fmt: skip
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D", str(self.datadir),
            "-o", options,
            "-l", str(self.root / "server.log"),
            "-w",
            "start",
        )  # fmt: skip

    def stop(self) -> None:
        """Stop the server and delete its files."""
        try:
            self._run(
                str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "stop"
            )
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, dbname: str = "postgres") -> str:
        """A SQLAlchemy URL for DBNAME in this cluster."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        """Create an empty database and return its URL."""
        with psycopg.connect(self._dsn("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting whoever is still connected."""
        with psycopg.connect(self._dsn("postgres"), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def _dsn(self, dbname: str) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
