"""The writer's end of the commit process (or, optionally, of a commit thread).

`ProcessCommitter` starts `python -m shieldx.credits.writer.process`, sends it each batch's rows
and hands the answers back on the event loop, in order. A batch sent is answered exactly
once: committed, refused (conflict: reload and retry) or unavailable - also when the process
dies, in which case every batch in flight is reported unavailable (it may or may not have
committed; the retry with the same idempotency key finds out) and the next batch starts a
new process. `ThreadCommitter` runs the same storage code in a thread of this process: the
GIL is then shared with the event loop (see docs/performance.md#credits for what that costs).
"""

from __future__ import annotations

import asyncio
import queue
import sys
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

import structlog

from shieldx.credits.store.backends import open_commit_store
from shieldx.credits.store.commits import CommitStore
from shieldx.credits.store.records import CommitResult, StoreConflict, StoreUnavailable
from shieldx.credits.writer.process import CommitServer, FrameReader, frame
from shieldx.credits.writer.submissions import Batch

log = structlog.get_logger("shieldx.credits")
START_TIMEOUT = 30.0  # seconds for a new commit process to open the database
Done = Callable[[Batch], None]
Projected = Callable[[int], None]


class _Committer:
    """What both committers share: batches in flight and the answers' dispatch."""

    def __init__(self, config: dict[str, Any], *, done: Done, projected: Projected) -> None:
        self.config = config
        self.done = done
        self.projected = projected
        self.inflight: deque[Batch] = deque()
        self.head: tuple[int, str] = (0, "")
        self._ready: asyncio.Future[None] | None = None
        self.on_exit: Callable[[], None] = lambda: None  # the commit side ended (or died)

    def _message(self, message: tuple[Any, ...]) -> None:
        """One answer from the storage side (on the event loop)."""
        kind = message[0]
        if kind == "ready":
            _, position, digest, projected = message
            self.head = (position, digest)
            self.projected(projected)
            if self._ready is not None and not self._ready.done():
                self._ready.set_result(None)
            return
        if kind == "projected":
            self.projected(message[1])
            return
        batch = self.inflight.popleft()
        if batch.seq != message[1]:
            raise RuntimeError(f"commit answer for batch {message[1]}, expected {batch.seq}")
        if kind == "committed":
            _, _, first, head, digest, foreign, projected = message
            batch.result = CommitResult(
                first, head, digest, frozenset((t, a) for t, a in foreign), projected
            )
            self.head = (head, digest)
        elif kind == "empty":
            batch.result, projected = None, message[2]
        else:
            _, _, reason, text, projected = message
            batch.result = StoreConflict(None) if reason == "conflict" else StoreUnavailable(text)
        if projected is not None:
            self.projected(projected)
        self.done(batch)

    def fail_inflight(self, why: str) -> None:
        """Report every batch in flight unavailable (the commit side is gone)."""
        while self.inflight:
            batch = self.inflight.popleft()
            batch.result = StoreUnavailable(why)
            self.done(batch)

    @staticmethod
    def _request(batch: Batch) -> tuple[Any, ...]:
        return ("commit", batch.seq, batch.epoch, batch.poisoned, batch.plan.wire())


class _Protocol(asyncio.SubprocessProtocol):
    def __init__(self, owner: ProcessCommitter) -> None:
        self.owner = owner
        self.reader = FrameReader()
        self.exited = False

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        # Output of a process already declared dead may still arrive (the loop reports the
        # exit and the pipe's last bytes in either order): its batches were failed already,
        # and the queue of batches in flight belongs to the next process by now.
        if fd == 1 and not self.exited:
            for message in self.reader.feed(data):
                self.owner._message(message)

    def process_exited(self) -> None:
        self.exited = True
        self.owner._exited()


class ProcessCommitter(_Committer):
    """Commits in a child process (see the module docstring)."""

    def __init__(self, config: dict[str, Any], *, done: Done, projected: Projected) -> None:
        super().__init__(config, done=done, projected=projected)
        self._transport: asyncio.SubprocessTransport | None = None
        self._stdin: Any = None
        self._exit: asyncio.Future[None] | None = None

    @property
    def running(self) -> bool:
        """Whether the commit process is up."""
        return self._stdin is not None

    async def start(self) -> None:
        """Start the commit process and wait until it has opened the database."""
        loop = asyncio.get_running_loop()
        if self._transport is not None:  # a process that died: release its pipes
            self._transport.close()
            self._transport = None
        self._ready, self._exit = loop.create_future(), loop.create_future()
        transport, _ = await loop.subprocess_exec(
            lambda: _Protocol(self),
            sys.executable,
            "-m",
            "shieldx.credits.writer.process",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=None,
        )
        self._transport = transport
        stdin: Any = transport.get_pipe_transport(0)  # uvloop's is not an asyncio class
        self._stdin = stdin
        stdin.write(frame(self.config))
        ready, exited = self._ready, self._exit
        timeout = float(self.config.get("start_timeout", START_TIMEOUT))
        await asyncio.wait([ready, exited], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            self._stdin = None
            gave_up = not exited.done()
            if gave_up:  # still connecting (an unreachable server): give up on it
                transport.kill()
                await exited
            transport.close()
            if gave_up:
                raise StoreUnavailable(
                    f"the commit process could not open the database within {timeout:g} s"
                )
            raise StoreUnavailable("the commit process could not open the database")

    def submit(self, batch: Batch) -> None:
        """Send BATCH; `done` runs when its answer arrives."""
        if self._stdin is None:
            batch.result = StoreUnavailable("the commit process is not running")
            self.done(batch)
            return
        data = frame(self._request(batch))  # raises before the batch counts as in flight
        self.inflight.append(batch)
        self._write(data)

    def request_projection(self) -> None:
        """Ask for history and usage to be brought up to the head now (a reader waits)."""
        if self._stdin is not None:
            self._write(frame(("project",)))

    def _write(self, data: bytes) -> None:
        try:
            self._stdin.write(data)
        except (RuntimeError, OSError) as exc:
            # The process died and its pipe closed before its exit was reported (uvloop
            # raises on a closed handle): the exit, which always follows, fails the batch.
            log.warning("credits.commit_pipe_closed", error=str(exc))

    def _exited(self) -> None:
        self._stdin = None
        if self.inflight:
            log.warning("credits.commit_process_exited", inflight=len(self.inflight))
        self.fail_inflight("the commit process exited")
        if self._exit is not None and not self._exit.done():
            self._exit.set_result(None)
        self.on_exit()

    async def stop(self) -> None:
        """Close its input (it finishes what it has) and wait for it to exit."""
        if self._stdin is not None:
            self._stdin.close()
        if self._exit is not None:
            await self._exit
        if self._transport is not None:
            self._transport.close()


class _ThreadServer(CommitServer):
    def __init__(self, storage: CommitStore, owner: ThreadCommitter) -> None:
        super().__init__(storage, None)
        self.owner = owner

    def send(self, message: Any) -> None:
        assert self.owner.loop is not None
        self.owner.loop.call_soon_threadsafe(self.owner._message, message)


class ThreadCommitter(_Committer):
    """Commits in a thread of this process (shares the GIL with the event loop)."""

    def __init__(self, config: dict[str, Any], *, done: Done, projected: Projected) -> None:
        super().__init__(config, done=done, projected=projected)
        self._queue: queue.SimpleQueue[tuple[Any, ...] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    @property
    def running(self) -> bool:
        """Whether the commit thread is up."""
        return self._thread is not None and self._thread.is_alive()

    async def start(self) -> None:
        """Open the connection and start the thread."""
        self.loop = loop = asyncio.get_running_loop()
        self._ready = loop.create_future()
        self._thread = threading.Thread(target=self._run, name="credits-commit", daemon=True)
        self._thread.start()
        await self._ready

    def _run(self) -> None:
        config = self.config
        storage = open_commit_store(
            config,
            project_interval=float(config["project_interval"]),
            project_chunk=int(config["project_chunk"]),
        )
        server = _ThreadServer(storage, self)
        position, digest = storage.head()
        server.send(("ready", position, digest.hex(), storage.projected or 0))
        while True:
            try:
                message = self._queue.get(timeout=storage.until_due())
            except queue.Empty:
                server.idle()
                continue
            if message is None:
                break
            server.handle(message)
        storage.conn.close()

    def submit(self, batch: Batch) -> None:
        """Queue BATCH; `done` runs when its answer arrives."""
        request = self._request(batch)
        self.inflight.append(batch)
        self._queue.put(request)

    def request_projection(self) -> None:
        """Ask for history and usage to be brought up to the head now."""
        self._queue.put(("project",))

    async def stop(self) -> None:
        """Finish what is queued and stop the thread."""
        if self._thread is not None:
            self._queue.put(None)
            await asyncio.to_thread(self._thread.join)
