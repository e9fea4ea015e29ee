"""The background controller: flushes stage counts, judges running stages, applies moves.

It keeps no state of its own: everything it needs is in the database, so after a restart
(or in another process) it simply carries on from the persisted stage and its start time.
Two processes running controllers cannot both move a deployment: each move is an
optimistic transition on the deployment's revision.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import anyio.to_thread
import structlog

from shieldx.shadow.flusher import CounterFlusher
from shieldx.shadow.rollouts.service import DeploymentService

log = structlog.get_logger("shieldx.shadow")


class DeploymentController:
    """Advances deployments every `interval` seconds."""

    def __init__(
        self,
        *,
        deployments: DeploymentService,
        flusher: CounterFlusher,
        reload_routing: Callable[[], Awaitable[None]],
        interval: float,
    ) -> None:
        self.deployments = deployments
        self.flusher = flusher
        self.reload_routing = reload_routing
        self.interval = interval
        self.ticks = 0

    async def tick(self) -> int:
        """One round: flush, judge every running deployment, reload routing if one moved."""
        await self.flusher.flush()  # this process's stage counts must be in the judgement
        moved = await anyio.to_thread.run_sync(self.deployments.tick)
        if moved:
            await self.reload_routing()
        self.ticks += 1
        return moved

    async def run_forever(self) -> None:
        """Tick until cancelled; a failing round is logged and the next one tries again."""
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("shadow.controller_failed", error_type=type(exc).__name__, error=str(exc))
