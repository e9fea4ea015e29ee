"""Token buckets per API key and per tenant, answering 429 with Retry-After."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class TokenBucket:
    """RATE tokens per second up to BURST; each request takes one."""

    rate: float
    burst: float
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """Take a token; return 0 when allowed, else the seconds until one is available."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class RateLimiter:
    """A bounded map of buckets (least recently used evicted), one per key."""

    # True when acquire() must be awaited (the buckets live elsewhere: Redis).
    remote = False

    def __init__(
        self,
        *,
        rate: float,
        burst: int,
        max_buckets: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._max = max_buckets
        self._clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def check(self, key: str) -> float:
        """0 when KEY may proceed, else the wait in seconds before retrying."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            # An evicted bucket comes back full: eviction only drops idle keys first.
            bucket = TokenBucket(self.rate, self.burst, self.burst, now)
            self._buckets[key] = bucket
            if len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket.take(now)

    async def acquire(self, key: str) -> float:
        """check() for callers that also serve remote limiters."""
        return self.check(key)


def retry_after_header(wait_seconds: float) -> str:
    """Retry-After in whole seconds, never 0 for a refused request."""
    return str(max(1, math.ceil(wait_seconds)))
