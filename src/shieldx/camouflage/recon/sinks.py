"""Where events go: a queue drained by one writer thread into pluggable sinks.

The event loop only appends to a bounded queue (``BatchWriter.submit``); a thread wakes every
``flush_interval`` (or when a batch is full, or when someone flushes), takes what piled up and
hands it to each sink as one ``Batch``: the database (one transaction per batch), the JSON-lines
file (one write per batch) and the webhook forwarder. A failing sink is logged and counted and
never stops the others.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

import orjson
import structlog

from shieldx.camouflage.store import Batch, CamouflageStore, encode_event

log = structlog.get_logger("shieldx.camouflage")

# (kind, payload): kind names the Batch field the payload goes to.
Item = tuple[str, Any]


class EventSink(ABC):
    """One destination for batches (subclass per destination); called on the writer thread."""

    name: str = "sink"

    @abstractmethod
    def write(self, batch: Batch) -> None:
        """Store or forward one batch."""

    def close(self) -> None:
        """Release what the sink holds (files); nothing by default."""
        return None


class DatabaseSink(EventSink):
    """Everything in the batch, in one transaction."""

    name = "database"

    def __init__(self, store: CamouflageStore, *, retry_delays_s: Sequence[float] = (0.2, 1.0)):
        self.store = store
        self.retry_delays_s = tuple(retry_delays_s)

    def write(self, batch: Batch) -> None:
        """One transaction for the whole batch, retried after a pause (a locked database)."""
        for delay in self.retry_delays_s:
            try:
                self.store.write_batch(batch)
                return
            except Exception as exc:
                log.warning("camouflage.batch_retry", error=type(exc).__name__, delay_s=delay)
                time.sleep(delay)
        self.store.write_batch(batch)


class JsonlSink(EventSink):
    """The events of the batch, one JSON object per line, appended to a file."""

    name = "jsonl"

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] = path.open("ab")

    def write(self, batch: Batch) -> None:
        """Append the batch's events and flush them to the OS."""
        if not batch.events:
            return
        lines = "\n".join(record[-1] for record in batch.events)
        self._file.write(lines.encode("utf-8") + b"\n")
        self._file.flush()

    def close(self) -> None:
        """Close the file."""
        self._file.close()


class ForwardSink(EventSink):
    """Hands the events whose ids are in EVENT_IDS to a callback (the webhook sender)."""

    name = "webhook"

    def __init__(self, event_ids: Sequence[str], forward: Callable[[list[dict[str, Any]]], None]):
        self.event_ids = frozenset(event_ids)
        self.forward = forward

    def write(self, batch: Batch) -> None:
        """Forward the selected events."""
        chosen = [orjson.loads(r[-1]) for r in batch.events if r[0] in self.event_ids]
        if chosen:
            self.forward(chosen)


class BatchWriter:
    """A bounded queue drained in batches by a dedicated thread."""

    def __init__(
        self,
        sinks: Sequence[EventSink],
        *,
        max_queue: int,
        max_batch: int,
        flush_interval_s: float,
    ) -> None:
        self.sinks = list(sinks)
        self.max_queue = max_queue
        self.max_batch = max_batch
        self.flush_interval_s = flush_interval_s
        self._queue: deque[Item] = deque()
        self._wake = threading.Event()
        self._done = threading.Condition()
        self._submitted = 0
        self._written = 0
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.dropped = 0
        self.failures: dict[str, int] = {sink.name: 0 for sink in self.sinks}
        self.batches = 0

    @property
    def pending(self) -> int:
        """Items waiting to be written."""
        return len(self._queue)

    def start(self) -> None:
        """Start the writer thread."""
        self._thread = threading.Thread(target=self._run, name="camouflage-writer", daemon=True)
        self._thread.start()

    def submit(self, kind: str, payload: Any) -> bool:
        """Queue one item; events beyond max_queue are dropped (False) and counted."""
        if kind == "events" and len(self._queue) >= self.max_queue:
            self.dropped += 1
            return False
        self._queue.append((kind, payload))
        self._submitted += 1
        if len(self._queue) >= self.max_batch and not self._wake.is_set():
            self._wake.set()
        return True

    def submit_event(self, ts: float, event: dict[str, Any]) -> bool:
        """Queue one event, encoded now (a compact record while it waits)."""
        return self.submit("events", encode_event(ts, event))

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until everything submitted before the call is written; False on timeout."""
        target = self._submitted
        deadline = time.monotonic() + timeout_s
        self._wake.set()
        with self._done:
            while self._written < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._thread is None or not self._thread.is_alive():
                    return self._written >= target
                self._done.wait(min(remaining, 0.05))
                self._wake.set()
        return True

    def stop(self, timeout_s: float = 30.0) -> None:
        """Write what is queued, stop the thread and close the sinks."""
        self.flush(timeout_s)
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        for sink in self.sinks:
            try:
                sink.close()
            except Exception:
                log.exception("camouflage.sink_close_failed", sink=sink.name)

    def _run(self) -> None:
        while True:
            self._wake.wait(self.flush_interval_s)
            self._wake.clear()
            # Write what is there now, then sleep again: a busy stream makes few large
            # batches (one transaction, one file write each), not a stream of small ones.
            while self._queue:
                self._write(self._take())
                if len(self._queue) < self.max_batch and not self._wake.is_set():
                    break
            if self._stopping and not self._queue:
                return

    def _take(self) -> tuple[Batch, int]:
        batch = Batch()
        taken = 0
        queue = self._queue
        while queue and taken < self.max_batch:
            kind, payload = queue.popleft()
            taken += 1
            target = getattr(batch, kind)
            if isinstance(target, dict):
                key, row = payload
                target[key] = row
            else:
                target.append(payload)
        return batch, taken

    def _write(self, taken: tuple[Batch, int]) -> None:
        batch, count = taken
        for sink in self.sinks:
            try:
                sink.write(batch)
            except Exception:
                self.failures[sink.name] += 1
                log.exception("camouflage.sink_failed", sink=sink.name, items=len(batch))
        self.batches += 1
        with self._done:
            self._written += count
            self._done.notify_all()
