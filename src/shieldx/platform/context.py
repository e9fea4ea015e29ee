"""Everything a service needs from the platform, built once per process and passed in."""

from __future__ import annotations

from dataclasses import dataclass

from shieldx import __version__
from shieldx.config import Settings
from shieldx.platform.auth import ApiKeyStore, Authenticator
from shieldx.platform.bus import EventBus
from shieldx.platform.cluster import RedisBusBridge, RedisRateLimiter, redis_client
from shieldx.platform.crypto import Keyring, load_keyring
from shieldx.platform.db import Database, create_database
from shieldx.platform.honeytokens import HoneytokenRegistry
from shieldx.platform.mfa import MfaStore
from shieldx.platform.ratelimit import RateLimiter
from shieldx.platform.siem.service import SiemExporter, build_exporter


@dataclass(frozen=True)
class PlatformContext:
    """Settings, storage, keys and the shared runtime objects of one process."""

    settings: Settings
    db: Database
    keyring: Keyring
    api_keys: ApiKeyStore
    authenticator: Authenticator
    key_limiter: RateLimiter
    tenant_limiter: RateLimiter
    # Requests without a valid key, per client address (server.anonymous_*).
    source_limiter: RateLimiter
    bus: EventBus
    honeytokens: HoneytokenRegistry
    # Second factors of admin keys (security.admin_mfa).
    mfa: MfaStore
    # Security events to the SIEM (siem.*); None when no destination is configured.
    siem: SiemExporter | None = None
    # The other replicas' events (cluster.redis_url); None for a process on its own.
    bridge: RedisBusBridge | None = None

    def close(self) -> None:
        """Release the database connections."""
        self.db.dispose()


def build_context(settings: Settings, *, db: Database | None = None) -> PlatformContext:
    """Create the data directory, the engine, the keyring and the auth objects."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = db or create_database(settings)
    store = ApiKeyStore(database)
    limits = settings.security.rate_limit
    server = settings.server
    bus = EventBus()
    honeytokens = HoneytokenRegistry(database, bus)
    authenticator = Authenticator(
        store, ttl_seconds=settings.security.api_key_cache.total_seconds()
    )
    authenticator.listeners.append(
        lambda digest, source: honeytokens.report_hash(digest, location="api_key", source=source)
    )
    keyring = load_keyring(settings)
    siem = build_exporter(settings.siem, version=__version__)
    if siem is not None:
        bus.subscribe_all(siem.offer)

        # A refused API key: only where it came from (never the key nor its hash).
        def refused(_digest: str, source: str) -> None:
            bus.publish("auth.failed", {"source": source, "reason": "unknown or revoked API key"})

        authenticator.listeners.append(refused)
    key_limiter = RateLimiter(rate=limits.key_rate, burst=limits.key_burst)
    tenant_limiter = RateLimiter(rate=limits.tenant_rate, burst=limits.tenant_burst)
    bridge: RedisBusBridge | None = None
    cluster = settings.cluster
    if cluster.redis_url is not None:
        client = redis_client(cluster)
        prefix = cluster.key_prefix
        key_limiter = RedisRateLimiter(
            client, prefix=f"{prefix}rl:key:", rate=limits.key_rate, burst=limits.key_burst
        )
        tenant_limiter = RedisRateLimiter(
            client, prefix=f"{prefix}rl:tenant:", rate=limits.tenant_rate, burst=limits.tenant_burst
        )
        bridge = RedisBusBridge(client, bus, prefix=prefix)
        bus.forwarders.append(bridge.forward)
    return PlatformContext(
        settings=settings,
        db=database,
        keyring=keyring,
        api_keys=store,
        authenticator=authenticator,
        key_limiter=key_limiter,
        tenant_limiter=tenant_limiter,
        source_limiter=RateLimiter(
            rate=server.anonymous_rate,
            burst=server.anonymous_burst,
            max_buckets=server.anonymous_max_addresses,
        ),
        bus=bus,
        honeytokens=honeytokens,
        mfa=MfaStore(database, keyring),
        siem=siem,
        bridge=bridge,
    )
