"""In-process HTTP faults (delay or abort a share of requests, as Envoy's fault filter does)
and the request observer the safety checks read; one platform RequestHook does both."""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from dataclasses import dataclass, field

from starlette.types import Scope

from shieldx.chaos.safety.domain import Observation
from shieldx.platform.errors import Problem

# Never faulted nor counted: the chaos routes themselves (an operator must always be able to
# see and abort an experiment) and the scrape/probe paths.
EXEMPT_PREFIXES = ("/chaos/", "/metrics")
WINDOW = 50_000


@dataclass(frozen=True)
class HttpFault:
    """Delay or abort PERCENT of requests under PATH until the monotonic EXPIRES_AT."""

    id: str
    path: str
    percent: float
    expires_at: float
    delay_s: float = 0.0
    abort_status: int | None = None


@dataclass
class HttpFaults:
    """The live HTTP faults plus a window of recent request outcomes (a RequestHook)."""

    faults: dict[str, HttpFault] = field(default_factory=dict)
    # (monotonic end time, status, seconds) of recent requests, newest last.
    outcomes: deque[tuple[float, int, float]] = field(default_factory=lambda: deque(maxlen=WINDOW))
    rng: random.Random = field(default_factory=random.Random)

    async def before(self, scope: Scope) -> Problem | None:
        """Apply the faults whose prefix matches this request."""
        if not self.faults:
            return None
        path: str = scope["path"]
        if path.startswith(EXEMPT_PREFIXES):
            return None
        now = time.monotonic()
        for fault in list(self.faults.values()):
            if now >= fault.expires_at:
                self.faults.pop(fault.id, None)  # the dead-man expiry
                continue
            if not path.startswith(fault.path) or self.rng.random() * 100 >= fault.percent:
                continue
            if fault.abort_status is not None:
                return Problem(
                    fault.abort_status,
                    f"aborted by chaos fault {fault.id}",
                    type="chaos-fault",
                )
            await asyncio.sleep(fault.delay_s)
        return None

    def after(self, scope: Scope, status: int, seconds: float) -> None:
        """Record one request's outcome for the safety checks."""
        if not scope["path"].startswith(EXEMPT_PREFIXES):
            self.outcomes.append((time.monotonic(), status, seconds))

    def observe(self, since: float) -> Observation:
        """What requests that ended after monotonic SINCE looked like."""
        latencies = sorted(s for end, _, s in self.outcomes if end >= since)
        failed = sum(1 for end, status, _ in self.outcomes if end >= since and status >= 500)
        return Observation.of(latencies, failed)
