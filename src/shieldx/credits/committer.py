"""The commit thread: writes the writer's batches in order, one transaction each."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Any

import structlog

from shieldx.credits.records import CommitResult, StoreConflict, StoreUnavailable
from shieldx.credits.store import EventStore
from shieldx.credits.submissions import Batch

log = structlog.get_logger("shieldx.credits")


class CommitThread:
    """Writes batches in order on one connection; after a failure, refuses that epoch's rest."""

    def __init__(
        self,
        store: EventStore,
        head: tuple[int, str],
        loop: asyncio.AbstractEventLoop,
        done: Callable[[Batch], None],
    ) -> None:
        self.store = store
        self.since: tuple[int, str] | None = head
        self.loop = loop
        self.done = done
        self.failed_epoch = -1
        self._queue: queue.SimpleQueue[Batch | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="credits-commit", daemon=True)
        self._conn: Any = None

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def submit(self, batch: Batch) -> None:
        """Queue BATCH for commit."""
        self._queue.put(batch)

    def reset(self, epoch: int, since: tuple[int, str]) -> None:
        """Accept batches of EPOCH again from head SINCE (called once nothing is in flight)."""
        self.failed_epoch = epoch - 1
        self.since = since

    def stop(self) -> None:
        """Stop after the queued batches; release the connection."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is None:
                break
            batch.result = self._commit(batch)
            self.loop.call_soon_threadsafe(self.done, batch)
        if self._conn is not None:
            self._conn.close()

    def _commit(self, batch: Batch) -> CommitResult | BaseException | None:
        if batch.epoch <= self.failed_epoch:
            return StoreConflict(None)  # a batch before it failed: it was applied on bad state
        if batch.poisoned:
            self.failed_epoch = batch.epoch
            return StoreUnavailable("a command could not be applied; the batch was discarded")
        if batch.plan.is_empty():
            return None
        try:
            if self._conn is None:
                self._conn = self.store.writer_connection()
            result = self.store.commit(self._conn, batch.plan, self.since)
        except (StoreConflict, StoreUnavailable) as exc:
            self.failed_epoch = batch.epoch
            if isinstance(exc, StoreUnavailable):
                self._discard()
            self.since = None
            return exc
        except Exception as exc:
            log.exception("credits.commit_error")
            self.failed_epoch = batch.epoch
            self._discard()
            self.since = None
            return StoreUnavailable(repr(exc))
        self.since = (result.head_position, result.head_hash)
        return result

    def _discard(self) -> None:
        if self._conn is not None:
            try:
                self._conn.invalidate()
            except Exception:
                log.warning("credits.connection_discard_failed")
            self._conn = None
