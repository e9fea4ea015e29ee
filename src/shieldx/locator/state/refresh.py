"""Keeping a process's token state current: a cheap inline check, else a coalesced refresh."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import anyio.to_thread

from shieldx.locator.state.versionfile import Versions

Changes = TypeVar("Changes")


@dataclass
class _Round:
    done: asyncio.Future[None]
    # Set by the worker thread just before it reads the database; until then every
    # newcomer may still join this round.
    started: float = float("inf")


class CoalescedRefresh(Generic[Changes]):
    """Guarantees each caller a refresh that started after it called, sharing rounds.

    `fetch` runs in a worker thread (it does the I/O) and returns changes; `apply` runs on
    the event loop, so the in-memory state is only ever mutated there. Under load one
    round serves every request that arrived before its worker thread began to read (all
    those queued while the previous round ran, and those arriving until the thread gets
    going): one query per burst rather than per request, and still no answer relies on a
    read older than its request.
    """

    def __init__(
        self,
        fetch: Callable[[], Changes],
        apply: Callable[[Changes], None],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._apply = apply
        self._clock = clock
        self._current: _Round | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.last_started = float("-inf")
        self.rounds = 0

    async def ensure_fresh(self) -> None:
        """Return once a refresh that began after this call has been applied."""
        arrival = self._clock()
        while True:
            current = self._current or self._begin()
            if current.started >= arrival:
                await asyncio.shield(current.done)
                return
            # That round may have read the database before our caller's write committed.
            with contextlib.suppress(Exception):
                await asyncio.shield(current.done)

    def _begin(self) -> _Round:
        loop = asyncio.get_running_loop()
        current = _Round(done=loop.create_future())
        self._current = current
        task = loop.create_task(self._run(current))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return current

    async def _run(self, current: _Round) -> None:
        def fetch() -> Changes:
            current.started = self._clock()
            return self._fetch()

        try:
            changes = await anyio.to_thread.run_sync(fetch)
            self._apply(changes)
        except BaseException as exc:
            self._current = None
            current.done.set_exception(exc)
            current.done.exception()  # retrieved here: waiters re-raise it themselves
            if not isinstance(exc, Exception):
                raise
            return
        self._current = None
        self.last_started = current.started
        self.rounds += 1
        current.done.set_result(None)


class VersionProbe(Protocol):
    """Reads the counters as the database has them, without leaving the caller's thread."""

    def read(self) -> Versions | None:
        """The counters, or None when the probe cannot answer."""


class Freshness:
    """Per request: if the counters equal what this process applied, nothing changed since.

    With a probe (SQLite: the shared version file, a memory read) the common case costs
    no query and no thread hop; otherwise, or when a counter moved, a coalesced refresh
    runs. `max_staleness` > 0 trades that guarantee for fewer checks.
    """

    def __init__(
        self,
        refresh: CoalescedRefresh[Any],
        applied: Callable[[], Versions],
        *,
        probe: VersionProbe | None = None,
        max_staleness: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.refresh = refresh
        self._applied = applied
        self._probe = probe
        self._max_staleness = max_staleness
        self._clock = clock
        self._last_checked = float("-inf")

    async def ensure_fresh(self) -> None:
        """Return once this process's state is at least as new as the database's now."""
        if self._max_staleness > 0:
            now = self._clock()
            if now - self._last_checked <= self._max_staleness:
                return
            self._last_checked = now
        if self._probe is not None and self._probe.read() == self._applied():
            return
        await self.refresh.ensure_fresh()
