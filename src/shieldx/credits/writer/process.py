"""The commit process: `python -m shieldx.credits.writer.process`, started by the credits writer.

It owns one database connection and runs a `CommitStore` (store/commits.py) on it, so the SQLite (or
PostgreSQL) work of every group commit - hashing, binding, B-tree inserts, the fsync - runs
on its own interpreter and its own GIL instead of waiting for the event loop's. The writer
sends frames on stdin and reads frames on stdout; a frame is a 4-byte little-endian length
and a marshal payload (both ends run the same interpreter):

    -> config dict                              <- ("ready", head, head_hex, projected)
    -> ("commit", seq, epoch, poisoned, plan)   <- ("committed", seq, first, head, head_hex,
                                                    foreign, projected) | ("empty", seq,
                                                    projected) | ("failed", seq, kind, text,
                                                    projected)
    -> ("project",)                             <- ("projected", position)

Batches are committed in the order they arrive and answered in that order. After a failed
commit, later batches of the same epoch are refused (they were applied on top of it). The
process exits at end of input - also when the service is killed - after finishing the
transaction in progress; it ignores SIGINT and SIGTERM, which its parent handles.
"""

from __future__ import annotations

import marshal
import os
import select
import signal
import struct
import sys
import time
from typing import Any

from shieldx.credits.store.backends import open_commit_store
from shieldx.credits.store.commits import CommitStore
from shieldx.credits.store.records import Plan, StoreConflict, StoreUnavailable

_LENGTH = struct.Struct("<I")


def frame(message: Any) -> bytes:
    """MESSAGE as one length-prefixed marshal frame."""
    payload = marshal.dumps(message)
    return _LENGTH.pack(len(payload)) + payload


class FrameReader:
    """Splits a byte stream into frames."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[Any]:
        """Add DATA; the messages completed by it."""
        buffer = self.buffer
        buffer += data
        messages = []
        start = 0
        while len(buffer) - start >= 4:
            (length,) = _LENGTH.unpack_from(buffer, start)
            end = start + 4 + length
            if len(buffer) < end:
                break
            # Our own child process on a private pipe, never network input.
            messages.append(marshal.loads(buffer[start + 4 : end]))  # noqa: S302
            start = end
        if start:
            del buffer[:start]
        return messages


class CommitServer:
    """The request loop of the commit process (see the module docstring)."""

    def __init__(self, storage: CommitStore, out: Any) -> None:
        self.storage = storage
        self.out = out
        self.failed_epoch = -1

    def send(self, message: Any) -> None:
        """Write one frame to the writer."""
        self.out.write(frame(message))
        self.out.flush()

    def handle(self, message: tuple[Any, ...]) -> None:
        """Answer one request."""
        if message[0] == "project":
            self.storage.urgent = True
            return
        _, seq, epoch, poisoned, wire = message
        storage = self.storage
        if epoch <= self.failed_epoch:
            # A batch before it failed: it was applied on state that never committed.
            self.send(("failed", seq, "conflict", "an earlier batch failed", storage.projected))
            return
        if poisoned:
            self.failed_epoch = epoch
            text = "a command could not be applied; the batch was discarded"
            self.send(("failed", seq, "unavailable", text, storage.projected))
            return
        plan = Plan(*wire)
        if storage.broken():  # the server went away (a failover): the new primary, if any
            try:
                storage.reconnect()
            except StoreUnavailable as exc:
                self.failed_epoch = epoch
                self.send(("failed", seq, "unavailable", str(exc), storage.projected))
                return
        if plan.is_empty():
            self.send(("empty", seq, storage.projected or 0))
            return
        try:
            first, head, digest, foreign, projected = storage.commit(plan)
        except (StoreConflict, StoreUnavailable) as exc:
            self.failed_epoch = epoch
            kind = "conflict" if isinstance(exc, StoreConflict) else "unavailable"
            self.send(("failed", seq, kind, str(exc), storage.projected))
            return
        except Exception as exc:  # a bug: refuse this epoch, keep serving
            self.failed_epoch = epoch
            self.send(("failed", seq, "unavailable", repr(exc), storage.projected))
            return
        self.send(("committed", seq, first, head, digest, [list(k) for k in foreign], projected))

    def idle(self) -> None:
        """Nothing to commit: bring the projections up to the head if they are due."""
        if self.storage.until_due() is not None:
            if self.storage.broken():
                try:
                    self.storage.reconnect()
                except StoreUnavailable:
                    time.sleep(0.1)  # the database is away (a failover): do not spin
                    return
            try:
                position = self.storage.project_now()
            except StoreUnavailable:
                return
            self.send(("projected", position))


def serve(stdin: int, out: Any) -> None:
    """Read the configuration, open the database, then serve requests until end of input."""
    reader = FrameReader()
    config: dict[str, Any] | None = None
    pending: list[Any] = []
    while config is None:
        data = os.read(stdin, 1 << 16)
        if not data:
            return
        messages = reader.feed(data)
        if messages:
            config = messages[0]
            pending = messages[1:]
    storage = open_commit_store(
        config,
        project_interval=float(config["project_interval"]),
        project_chunk=int(config["project_chunk"]),
    )
    server = CommitServer(storage, out)
    position, digest = storage.head()
    server.send(("ready", position, digest.hex(), storage.projected or 0))
    while True:
        for message in pending:
            server.handle(message)
        wait = storage.until_due()
        ready, _, _ = select.select([stdin], [], [], wait)
        if not ready:
            server.idle()
            pending = []
            continue
        data = os.read(stdin, 1 << 20)
        if not data:
            break
        pending = reader.feed(data)
    storage.conn.close()


def main() -> None:
    """Entry point of `python -m shieldx.credits.writer.process`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=1 << 20)
    sys.stdout = sys.stderr  # nothing else may write into the frame stream
    serve(sys.stdin.fileno(), out)


if __name__ == "__main__":
    main()
