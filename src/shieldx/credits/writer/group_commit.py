"""Group commit: one writer per database applies queued commands in memory and commits them together.

Callers enqueue work and await a future. The writer task takes everything queued, loads
what it lacks (accounts, command-log entries) in a thread, applies the commands in order
against cached aggregates, and hands the batch's rows to the commit process (pipe.py, the
writer's end; process.py, the process) that writes them in ONE transaction. While a batch commits, the next one is applied (a pipeline of depth
`pipeline_depth`); each caller is answered only after its batch - and every batch before
it - is durable. When a commit fails, every later batch is refused by the commit process,
the accounts those batches touched are dropped and the submissions are applied again from
the database, so memory never runs ahead of what was committed.

No input can stop the writer: a submission whose work raises anything is answered alone. Should
the loop itself crash, or the commit process die, a Supervisor answers what was waiting with
503 (retry with the same key), forgets the whole cache, restarts the commit process and the
loop with backoff, and `unready()` says why meanwhile (the service's /ready is 503).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

import anyio.to_thread
import orjson
import structlog

from shieldx.credits.ledger.domain import Account
from shieldx.credits.ledger.errors import HoldNotFound, LedgerError
from shieldx.credits.ledger.events import Event
from shieldx.credits.ledger.ids import now_us
from shieldx.credits.store.base import EventStore
from shieldx.credits.store.records import (
    AccountKey,
    StoreConflict,
)
from shieldx.credits.writer.accounts import load_accounts
from shieldx.credits.writer.cache import LedgerCache
from shieldx.credits.writer.pipe import ProcessCommitter, ThreadCommitter
from shieldx.credits.writer.plans import PlanBuilder
from shieldx.credits.writer.submissions import (
    Accepted,
    ApplyFailed,
    Batch,
    CommandEntry,
    IdempotencyMismatch,
    Submission,
    Work,
    WriterStats,
    WriterUnavailable,
)
from shieldx.credits.writer.supervisor import Supervisor

log = structlog.get_logger("shieldx.credits")


class CommitProcessExited(Exception):
    """The commit process died: the supervisor restarts it (and the loop)."""


Answer = tuple[str, int, str]  # request hash, status, body of a committed answer
_MIN_COHORT = 32


class GroupCommitWriter:
    """The single writer of one database in this process (see the module docstring)."""

    def __init__(
        self,
        store: EventStore,
        *,
        snapshot_interval: int,
        max_batch: int = 1024,
        pipeline_depth: int = 2,
        cache_size: int = 100_000,
        command_cache_size: int = 100_000,
        queue_limit: int = 100_000,
        max_retries: int = 5,
        clock: Callable[[], int] = now_us,
        seal: Callable[[str, bytes], str] = lambda tenant, body: body.decode(),
        unseal: Callable[[str, str], bytes] = lambda tenant, stored: stored.encode(),
        commit_config: dict[str, Any] | None = None,
        commit_process: bool = True,
        projected: Callable[[int], None] = lambda position: None,
    ) -> None:
        self.store = store
        self.snapshot_interval = snapshot_interval
        self.max_batch = max_batch
        self.depth = pipeline_depth
        self.cache_size = cache_size
        self.command_cache_size = command_cache_size
        self.queue_limit = queue_limit
        self.max_retries = max_retries
        self.clock = clock
        self.seal = seal
        self.unseal = unseal
        self.stats = WriterStats()
        self.cache = LedgerCache(cache_size)
        # The cache's maps under their own names: the service reads holds and accounts.
        self.accounts = self.cache.accounts
        self.snapshot_versions = self.cache.snapshot_versions
        self.holds = self.cache.holds
        # Keys in flight (CommandEntry) and recent answers, oldest first. An answer is a plain
        # (request_hash, status, body) tuple of atoms: the garbage collector stops tracking
        # those, so full collections do not walk the hundred thousand kept in memory.
        self.commands: OrderedDict[AccountKey, CommandEntry | Answer] = OrderedDict()
        self._queue: deque[Submission] = deque()
        self._inflight: deque[Batch] = deque()
        self._retry: list[Submission] = []
        self._taken: list[Submission] = []
        self._dirty: set[AccountKey] = set()
        self._resetting = False
        self._epoch = 0
        self._seq = 0
        self._last_now = 0
        self._last_error: BaseException | None = None
        self.head_position = 0
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        kind = ProcessCommitter if commit_process else ThreadCommitter
        self.committer = kind(
            commit_config or store.commit_config(), done=self._committed, projected=projected
        )
        self.committer.on_exit = self._wakeup.set  # the loop notices and hands over
        self._stopping = False
        self.supervisor = Supervisor(
            self._serve, recover=self._recover, event="credits.writer_down"
        )
        # Test-only fault injection: called with each cohort before it is applied; whatever it
        # raises crashes the loop as a bug would (the supervisor must bring it back).
        self.fault: Callable[[list[Submission]], None] | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Start the commit process (it reads the chain head) and the writer task."""
        await self.committer.start()
        self.head_position = self.committer.head[0]
        self.supervisor.mark_up()
        self._task = asyncio.create_task(self.supervisor.run(), name="credits-writer")
        self._task.add_done_callback(self._task_done)

    async def stop(self) -> None:
        """Finish what is queued and in flight, then stop the commit process."""
        self._stopping = True
        self.supervisor.stop()
        self._wakeup.set()
        if self._task is not None:
            # A task that crashed was reported when it ended (_task_done); stop cleanly.
            await asyncio.wait([self._task])
        await self.committer.stop()

    def unready(self) -> str | None:
        """Why the writer cannot take writes now, or None when it can (for /ready)."""
        if self._task is None or self._stopping:
            return None  # not serving yet, or draining: the platform reports those
        if self._task.done():
            return "the credits writer has stopped; the service must restart"
        if self.supervisor.down is not None:
            return f"the credits writer is restarting after a failure: {self.supervisor.down}"
        if not self.committer.running:
            return "the credits commit process is not running; it is being restarted"
        return None

    def _task_done(self, task: asyncio.Task[None]) -> None:
        # The supervisor only ends when stopped. Should a bug ever end it, every caller
        # waiting gets a 503 rather than an answer that never comes, and it is logged loudly.
        if task.cancelled() or task.exception() is None:
            return
        log.critical("credits.writer_crashed", error=repr(task.exception()))
        self._abandon(WriterUnavailable("the credits writer has stopped; the service must restart"))
        for s in (s for b in self._inflight for s in b.submissions):
            if not s.future.done():
                s.future.set_exception(WriterUnavailable("the credits writer has stopped"))

    def _abandon(self, error: BaseException) -> None:
        """Answer every submission not in flight with ERROR (none of them was committed)."""
        waiting = [*self._taken, *self._queue, *self._retry]
        self._taken = []
        self._queue.clear()
        self._retry = []
        self._fail(waiting, error)

    async def _serve(self) -> None:
        """The supervised body: (re)start the commit process, then run the loop."""
        if not self.committer.running:
            await self.committer.start()  # a new one reads the head again
            self.head_position = max(self.head_position, self.committer.head[0])
        self.supervisor.mark_up()
        await self._run()

    async def _recover(self, error: BaseException) -> None:
        """After a crash: answer the waiting, let in-flight batches finish, forget the cache."""
        self._abandon(
            WriterUnavailable(
                "the credits writer is restarting after a failure; "
                "nothing of this request was recorded"
            )
        )
        while self._inflight:  # answered by the commit process, or failed if it died
            if not self.committer.running:
                self.committer.fail_inflight("the commit side stopped")
                break
            self._wakeup.clear()
            await self._wakeup.wait()
        if self._resetting:
            self._reset()
        # Memory may be ahead of the database (a cohort applied but never sent): drop it all.
        self.cache.forget(list(self.accounts))
        self.holds.clear()
        self._dirty = set()
        self._epoch += 1
        self._abandon(WriterUnavailable("the credits writer is restarting after a failure"))

    # ------------------------------------------------------------------ submitting
    async def submit(
        self,
        work: Work,
        *,
        idempotency: AccountKey | None = None,
        request_hash: str = "",
        side_rows: Callable[[PlanBuilder], None] | None = None,
    ) -> Accepted:
        """Queue WORK and wait until it is committed (or refused, or answered from the log)."""
        if self._stopping:
            raise WriterUnavailable("the credits writer is shutting down")
        if self.supervisor.down is not None and self._task is not None:
            raise WriterUnavailable("the credits writer is restarting after a failure")
        if self._task is not None and self._task.done():
            raise WriterUnavailable("the credits writer has stopped; the service must restart")
        if len(self._queue) >= self.queue_limit:
            raise WriterUnavailable("the credits writer queue is full; retry shortly")
        loop = asyncio.get_running_loop()
        if idempotency is not None:
            entry = self.commands.get(idempotency)
            if entry is not None:
                return await self._duplicate(entry, request_hash)
        future: asyncio.Future[Accepted] = loop.create_future()
        submission = Submission(work, future, idempotency, request_hash, side_rows=side_rows)
        if idempotency is not None:
            self.commands[idempotency] = CommandEntry(request_hash, future)
        self._queue.append(submission)
        self._wakeup.set()
        return await future

    async def _duplicate(self, entry: CommandEntry | Answer, request_hash: str) -> Accepted:
        if isinstance(entry, tuple):
            if entry[0] != request_hash:
                raise IdempotencyMismatch("this Idempotency-Key was used with a different request")
            return Accepted(entry[1], entry[2].encode(), replayed=True)
        if entry.request_hash != request_hash:
            raise IdempotencyMismatch("this Idempotency-Key was used with a different request")
        original = await asyncio.shield(entry.future)
        return Accepted(original.status, original.body, replayed=True)

    @property
    def queue_depth(self) -> int:
        """Submissions waiting to be applied."""
        return len(self._queue)

    # ------------------------------------------------------------------ the loop
    async def _run(self) -> None:
        while True:
            if not self.committer.running:
                raise CommitProcessExited("the commit process exited")
            if self._resetting or not self._queue or len(self._inflight) >= self.depth:
                if self._stopping and not self._queue and not self._inflight:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            take = len(self._queue)
            if not self._inflight and self.depth > 1 and take >= 2 * _MIN_COHORT:
                # Split a closed loop of callers into cohorts: one is applied while the
                # other commits, instead of everyone waiting for one big commit.
                take = (take + 1) // 2
            items = [self._queue.popleft() for _ in range(min(self.max_batch, take))]
            self._taken = items  # out of the queue, not yet in flight
            try:
                await self._prefetch(items)
            except Exception as exc:
                # The detail (it may hold internal balances) goes to the log, not to clients.
                log.warning("credits.prefetch_failed", error=str(exc))
                self._fail(items, WriterUnavailable("the ledger could not load the accounts"))
                continue
            if self._resetting or any(k not in self.accounts for s in items for k in s.work.keys):
                self._queue.extendleft(reversed(items))  # reset meanwhile, or evicted: again
                self._taken = []
                continue
            if self.fault is not None:
                self.fault(items)
            batch = self._apply(items)
            self._inflight.append(batch)
            try:
                self.committer.submit(batch)
            except Exception:
                self._inflight.pop()  # never sent: its callers are answered by the supervisor
                raise
            self._taken = []

    async def _prefetch(self, items: list[Submission]) -> None:
        # Idempotency keys are assumed new on a first attempt: the command log's primary key
        # refuses a key that is already there, the batch is retried, and retries (like
        # requests whose account must be loaded anyway) look their keys up first. So the
        # common case - warm accounts, fresh keys - needs no database round trip here.
        accounts = self.accounts
        missing = {k for s in items for k in s.work.keys if k not in accounts}
        unchecked = [
            s.idem
            for s in items
            if s.idem is not None
            and not s.checked
            and (s.retries or s.refused_unchecked or any(k in missing for k in s.work.keys))
        ]
        if not missing and not unchecked:
            return
        loads, stored = await anyio.to_thread.run_sync(
            lambda: (
                load_accounts(self.store, missing) if missing else {},
                self.store.find_commands(unchecked) if unchecked else {},
            )
        )
        if self._resetting:
            return
        for key, (account, snapshot_version) in loads.items():
            if key not in self.accounts:
                self.accounts[key] = account
                self.snapshot_versions[key] = snapshot_version
        looked_up = set(unchecked)
        for s in items:
            if s.idem not in looked_up:
                continue
            s.checked = True
            if s.idem not in stored:
                continue
            found = stored[s.idem]
            if found.request_hash != s.request_hash:
                s.outcome = IdempotencyMismatch(
                    "this Idempotency-Key was used with a different request"
                )
            else:
                body = self.unseal(s.idem[0], found.response)
                s.outcome = Accepted(found.status, body, replayed=True)
                # Duplicates already waiting hold the in-flight entry and get this outcome too.
                self.commands[s.idem] = (found.request_hash, found.status, body.decode())

    def _apply(self, items: list[Submission]) -> Batch:
        now = max(self.clock(), self._last_now)
        self._last_now = now
        self._seq += 1
        builder = PlanBuilder(now, self.snapshot_interval, self.snapshot_versions)
        poisoned = False
        accounts = self.accounts  # every key of every item is cached (see _run)
        deferred: list[Submission] = []
        for s in items:
            if s.outcome is not None:
                continue
            try:
                changes = s.work.decide(accounts, now)
            except LedgerError as exc:
                if s.idem is not None and not s.checked:
                    # A refusal writes nothing, so the command log cannot object to a key
                    # that was already answered: look it up before refusing.
                    s.refused_unchecked = True
                    deferred.append(s)
                    continue
                s.outcome = self.cache.resolved_hold(exc) if isinstance(exc, HoldNotFound) else exc
                continue
            except Exception as exc:
                # A bug in deciding (which changes nothing): this submission alone fails.
                log.exception("credits.apply_failed", op=s.work.op, error=repr(exc))
                s.outcome = ApplyFailed(s.work.op)
                continue
            try:
                self._record(s, changes, builder)
            except Exception as exc:
                # The cached state may be half-changed: commit nothing of this batch, reload.
                log.exception("credits.apply_failed", op=s.work.op, error=repr(exc))
                s.outcome = ApplyFailed(s.work.op)
                poisoned = True
        if len(accounts) > self.cache_size // 2:  # LRU order matters only near the limit
            for s in items:
                for key in s.work.keys:
                    accounts.move_to_end(key)
        if deferred:
            self._queue.extendleft(reversed(deferred))
            items = [s for s in items if not s.refused_unchecked or s.checked]
        return Batch(self._seq, self._epoch, items, builder.finish(), poisoned=poisoned)

    def _record(
        self, s: Submission, changes: list[tuple[Account, list[Event]]], builder: PlanBuilder
    ) -> None:
        key = s.idem[1] if s.idem is not None else None
        note_hold, record, pins, seq = (
            self.cache.note_hold,
            builder.event,
            self.cache.pins,
            self._seq,
        )
        for account, events in changes:
            for event in events:
                account.apply(event)
                note_hold(account, event)
                record(account, event, key)
            pins[(account.tenant, account.account_id)] = seq
        status, body = s.work.respond()
        encoded = orjson.dumps(body)
        if s.idem is not None:
            stored = self.seal(s.idem[0], encoded) if s.work.sensitive else encoded.decode()
            builder.command(s.idem[0], s.idem[1], s.request_hash, s.work.op, status, stored)
        if s.side_rows is not None:
            s.side_rows(builder)
        s.outcome = Accepted(status, encoded)

    # ------------------------------------------------------------------ completion
    def _committed(self, batch: Batch) -> None:
        """Runs on the event loop when the commit process is done with BATCH."""
        assert self._inflight and self._inflight[0] is batch
        self._inflight.popleft()
        result = batch.result
        if isinstance(result, BaseException):
            if isinstance(result, StoreConflict):
                self.stats.conflicts += 1
            self._retry.extend(batch.submissions)
            self._dirty |= batch.plan.accounts
            if batch.poisoned:  # a half-applied command may have touched any of its accounts
                self._dirty.update(k for s in batch.submissions for k in s.work.keys)
            if not self._resetting:
                log.warning("credits.commit_failed", error=repr(result), batch=batch.seq)
            self._resetting = True
            self._last_error = result
            if not self._inflight:
                self._reset()
            self._wakeup.set()
            return
        if result is not None:
            self.head_position = result.head_position
            self.cache.forget(result.foreign, unless_pinned=True)
        self.cache.committed_seq = batch.seq
        self.stats.batches += 1
        self.stats.commands += len(batch.submissions)
        self.stats.last_batch = len(batch.submissions)
        for s in batch.submissions:
            self._answer(s)
        self._evict()
        for observer in self.stats.observers:
            observer(batch)
        self._wakeup.set()

    def _answer(self, s: Submission) -> None:
        outcome = s.outcome
        entry = self.commands.get(s.idem) if s.idem is not None else None
        if isinstance(outcome, Accepted):
            if entry is not None and s.idem is not None and not outcome.replayed:
                self.commands[s.idem] = (s.request_hash, outcome.status, outcome.body.decode())
                self.commands.move_to_end(s.idem)
            if not s.future.done():
                s.future.set_result(outcome)
            return
        if isinstance(entry, CommandEntry) and s.idem is not None:
            # Refusals are not recorded: the same key may be retried (and succeed later).
            del self.commands[s.idem]
        if not s.future.done():
            s.future.set_exception(outcome or WriterUnavailable("no outcome"))

    def _reset(self) -> None:
        """After a failed commit: forget what the failed batches changed, apply them again."""
        error = self._last_error
        self.cache.forget(self._dirty)  # the rest of the cache still equals the database
        self._dirty = set()
        self.holds.clear()
        self._epoch += 1
        retry, self._retry = self._retry, []
        again: list[Submission] = []
        for s in retry:
            outcome = s.outcome
            redo = outcome is None or isinstance(outcome, LedgerError)
            redo = redo or (isinstance(outcome, Accepted) and not outcome.replayed)
            if not redo:
                self._answer(s)  # answered from the command log, or an internal error
                continue
            s.retries += 1
            if s.retries > self.max_retries:
                s.outcome = WriterUnavailable(f"could not commit: {error}")
                self._answer(s)
                continue
            s.outcome = None
            s.checked = False
            again.append(s)
        self._queue.extendleft(reversed(again))
        self._resetting = False

    def _evict(self) -> None:
        self.cache.evict()
        while len(self.commands) > self.command_cache_size:
            key, entry = next(iter(self.commands.items()))
            if isinstance(entry, CommandEntry):
                break
            del self.commands[key]

    def _fail(self, items: list[Submission], error: BaseException) -> None:
        for s in items:
            s.outcome = error
            self._answer(s)
