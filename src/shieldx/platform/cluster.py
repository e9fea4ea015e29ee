"""State shared by every replica of ShieldX through Redis (`cluster.redis_url`).

- ``RedisRateLimiter``: token buckets kept in Redis and updated atomically by one Lua script
  (Redis' own clock), so R requests/s per key hold however many replicas serve the key. If
  Redis cannot be reached, the replica falls back to its own in-memory bucket (never
  unlimited) and logs it.
- ``RedisBusBridge``: what is published on a replica's event bus is also published on a Redis
  channel, and what other replicas publish there is delivered to this replica's subscribers
  (on its event loop), so a honeytoken hit on one replica reaches all of them. Handlers of
  every topic (the SIEM exporter) see local events only: one replica exports each event once.

API-key revocation needs nothing here: keys live in the shared database, and each replica's
cache keeps an answer at most ``security.api_key_cache``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson
import structlog
from pydantic import SecretStr, field_validator

from shieldx.platform.ratelimit import RateLimiter
from shieldx.platform.settings_types import Section

if TYPE_CHECKING:
    import redis.asyncio

    from shieldx.platform.bus import EventBus

log = structlog.get_logger("shieldx.cluster")

# KEYS[1] the bucket; ARGV rate (tokens/s), burst. Returns the wait in seconds (0: granted).
_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', string.format('%.17g', now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return string.format('%.17g', wait)
"""


class ClusterSettings(Section):
    """Replicas of a service share rate limits and the event bus through Redis when set."""

    # redis://[:password@]host:port/db; a secret (it may hold a password).
    redis_url: SecretStr | None = None
    # Prefix of every key and channel, so that several deployments may share one Redis.
    key_prefix: str = "shieldx:"

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise ValueError("cluster.redis_url must start with redis://, rediss:// or unix://")
        return value


def redis_client(settings: ClusterSettings) -> redis.asyncio.Redis:
    """An asyncio Redis client for the configured URL (connections are made lazily)."""
    try:
        import redis.asyncio
    except ImportError as exc:
        raise RuntimeError(
            "cluster.redis_url is set but the Redis client is not installed: "
            "pip install 'shieldx[cluster]'"
        ) from exc

    assert settings.redis_url is not None
    client: redis.asyncio.Redis = redis.asyncio.Redis.from_url(
        settings.redis_url.get_secret_value(), socket_timeout=1.0, socket_connect_timeout=1.0
    )
    return client


class RedisRateLimiter(RateLimiter):
    """Token buckets in Redis, shared by every replica; the local buckets are the fallback."""

    remote = True

    def __init__(
        self, client: redis.asyncio.Redis, *, prefix: str, rate: float, burst: int
    ) -> None:
        super().__init__(rate=rate, burst=burst)
        self.client = client
        self.prefix = prefix
        self._script = client.register_script(_TAKE)
        self._failing = False

    async def acquire(self, key: str) -> float:
        """0 when KEY may proceed, else the wait in seconds (one Redis round trip)."""
        try:
            wait = float(await self._script(keys=[self.prefix + key], args=[self.rate, self.burst]))
        except Exception as exc:  # any Redis or network failure: limit locally instead
            if not self._failing:
                log.error("cluster.rate_limit_local", error=type(exc).__name__)
                self._failing = True
            return self.check(key)
        if self._failing:
            log.info("cluster.rate_limit_shared_again")
            self._failing = False
        return wait


class RedisBusBridge:
    """Forwards local bus events to a Redis channel and delivers the other replicas' events."""

    def __init__(self, client: redis.asyncio.Redis, bus: EventBus, *, prefix: str) -> None:
        self.client = client
        self.bus = bus
        self.channel = f"{prefix}bus"
        self.origin = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._users = 0
        self._sent: set[asyncio.Task[Any]] = set()
        self.ready = asyncio.Event()

    def forward(self, topic: str, payload: Mapping[str, Any]) -> None:
        """The bus' outgoing hook: publish TOPIC's PAYLOAD to the other replicas."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        message = orjson.dumps({"origin": self.origin, "topic": topic, "payload": payload})

        def send() -> None:
            task = loop.create_task(self._publish(message))
            self._sent.add(task)
            task.add_done_callback(self._sent.discard)

        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            send()
        else:
            loop.call_soon_threadsafe(send)

    async def _publish(self, message: bytes) -> None:
        try:
            await self.client.publish(self.channel, message)
        except Exception as exc:  # the local bus already delivered; other replicas miss it
            log.warning("cluster.bus_publish_failed", error=type(exc).__name__)

    async def start(self) -> None:
        """Listen to the channel (once per process, however many apps share the bridge)."""
        self._users += 1
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self.ready = asyncio.Event()
        self._task = asyncio.create_task(self._listen(), name="cluster-bus")

    async def stop(self) -> None:
        """Stop listening when the last app stops."""
        self._users -= 1
        if self._users > 0 or self._task is None:
            return
        if self._sent:
            await asyncio.gather(*self._sent, return_exceptions=True)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        self._loop = None

    async def _listen(self) -> None:
        while True:
            try:
                async with self.client.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    self.ready.set()
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._deliver(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis went away: retry, the local bus keeps working
                self.ready.clear()
                log.warning("cluster.bus_listen_failed", error=type(exc).__name__)
                await asyncio.sleep(1.0)

    def _deliver(self, data: bytes) -> None:
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if not isinstance(doc, dict) or doc.get("origin") == self.origin:
            return
        topic, payload = doc.get("topic"), doc.get("payload")
        if isinstance(topic, str) and isinstance(payload, dict):
            self.bus.deliver_remote(topic, payload)
