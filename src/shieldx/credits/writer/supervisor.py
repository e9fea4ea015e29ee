"""Restart a background loop that crashed, with doubling backoff, and say so while it is down."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger("shieldx.credits")


class Supervisor:
    """Runs BODY until it returns; after a crash, RECOVER and run it again (0.1 s doubling to 5 s).

    `down` holds why it is not running (None while it runs); observers hear every change,
    and every crash is logged as a critical EVENT line with the exception.
    """

    def __init__(
        self,
        body: Callable[[], Awaitable[None]],
        *,
        recover: Callable[[BaseException], Awaitable[None]],
        event: str,
        min_delay: float = 0.1,
        max_delay: float = 5.0,
        healthy_after: float = 60.0,
    ) -> None:
        self.body = body
        self.recover = recover
        self.event = event
        self.min_delay = min_delay
        self.max_delay = max_delay
        self.healthy_after = healthy_after  # a run this long resets the backoff
        self.down: str | None = "not started"
        self.restarts = 0
        self.delay = min_delay  # the pause before the next restart
        self.observers: list[Callable[[bool], None]] = []
        self.stopping = False
        self._woken = asyncio.Event()

    async def run(self) -> None:
        """Run the body, restarting it after each crash, until it returns or stop() is called."""
        loop = asyncio.get_running_loop()
        self.delay = self.min_delay
        while True:
            started = loop.time()
            try:
                await self.body()
                return
            except Exception as exc:  # anything: the loop must come back
                if loop.time() - started >= self.healthy_after:
                    self.delay = self.min_delay
                self.restarts += 1
                self._set_down(f"{exc!r}; restarting")
                log.critical(
                    self.event,
                    error=repr(exc),
                    restarts=self.restarts,
                    restart_in=self.delay,
                    exc_info=exc,
                )
                try:
                    await self.recover(exc)
                except Exception as again:  # recovery is retried with the next restart
                    log.critical(f"{self.event}.recover_failed", error=repr(again), exc_info=again)
                await self.pause(self.delay)
                if self.stopping:
                    return
                self.delay = min(self.delay * 2, self.max_delay)

    def mark_up(self) -> None:
        """The body is running (again)."""
        self._set_down(None)

    def stop(self) -> None:
        """Do not restart any more; end a backoff pause now."""
        self.stopping = True
        self._woken.set()

    async def pause(self, seconds: float) -> None:
        """Wait SECONDS, or less if stop() is called."""
        self._woken.clear()
        if self.stopping:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._woken.wait(), seconds)

    def _set_down(self, why: str | None) -> None:
        if why == self.down:
            return
        was_up = self.down is None
        self.down = why
        if was_up != (why is None):
            for observer in self.observers:
                observer(why is None)
