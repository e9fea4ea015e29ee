"""The version counters, mirrored in a small shared-memory file beside a SQLite database.

Every process of the locator on one SQLite database maps the same 16 bytes. A writer
stores the counters it has just set there inside its write transaction, before the
commit, so by the time a revocation's HTTP answer leaves, every reader already sees the
new numbers. Reading them is a memory access: no query, no system call, and — unlike a
SQLite read — no release of the GIL, which under load hands the interpreter to another
thread for a whole switch interval and measured p99 latencies of several hundred ms.

A reader whose applied counters equal the mapped ones knows nothing changed; any other
value (newer, or left ahead by a transaction that failed to commit) only sends it to the
database to refresh, so a stale or torn value can cost time but never correctness.
"""

from __future__ import annotations

import mmap
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from shieldx.platform.db import Database

_LAYOUT = struct.Struct("<qq")
SUFFIX = "-locator"


@dataclass(frozen=True)
class Versions:
    """The two counters of the state row."""

    revocation_seq: int
    keys_version: int


class VersionFile:
    """16 bytes mapped shared by every process that opens the same path."""

    def __init__(self, path: Path) -> None:
        self.path = path
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < _LAYOUT.size:
                os.ftruncate(fd, _LAYOUT.size)  # growing to the same size twice is harmless
            self._map: mmap.mmap | None = mmap.mmap(fd, _LAYOUT.size)
        finally:
            os.close(fd)

    def read(self) -> Versions | None:
        """The mirrored counters (None once closed)."""
        if self._map is None:
            return None
        revocation_seq, keys_version = _LAYOUT.unpack_from(self._map, 0)
        return Versions(revocation_seq=revocation_seq, keys_version=keys_version)

    def publish(self, versions: Versions) -> None:
        """Mirror VERSIONS; call it while holding the database's write lock."""
        if self._map is not None:
            _LAYOUT.pack_into(self._map, 0, versions.revocation_seq, versions.keys_version)

    def close(self) -> None:
        """Unmap the file."""
        if self._map is not None:
            self._map.close()
            self._map = None


def version_file_for(db: Database) -> VersionFile | None:
    """The mirror for a SQLite file database; None elsewhere (PostgreSQL may span hosts)."""
    path = db.engine.url.database
    if db.backend != "sqlite" or not path or path == ":memory:":
        return None
    return VersionFile(Path(path + SUFFIX))
