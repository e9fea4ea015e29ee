"""API keys: creation, hashed storage, lookup with a short cache, roles and tenant scope."""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import anyio.to_thread
import sqlalchemy as sa
import structlog

from shieldx.platform.db import Database
from shieldx.platform.errors import Problem
from shieldx.platform.roles import Role

KEY_PREFIX = "shx_"
KEY_PATTERN = re.compile(r"^shx_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$")
MIN_BOOTSTRAP_KEY_LENGTH = 24
log = structlog.get_logger("shieldx.auth")
_MAX_PRESENTED_KEY = 512

metadata = sa.MetaData()
api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("tenant", sa.String(128)),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(24), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of a request."""

    key_id: str
    role: Role
    tenant: str | None
    name: str

    def tenant_for(self, requested: str | None) -> str:
        """The tenant this call acts on: a scoped key's own, or the one an unscoped key names."""
        if self.tenant is not None:
            if requested is not None and requested != self.tenant:
                raise Problem(
                    403,
                    f"this key is scoped to tenant {self.tenant!r} and cannot act on {requested!r}",
                    type="tenant-forbidden",
                )
            return self.tenant
        if requested is None:
            raise Problem(
                422,
                "this key is not scoped to a tenant: name the tenant in the request",
                type="tenant-required",
            )
        return requested

    def can_see(self, tenant: str | None) -> bool:
        """Whether data of TENANT is visible to this caller."""
        return self.tenant is None or self.tenant == tenant


@dataclass(frozen=True)
class ApiKeyRecord:
    """A stored key, without its secret."""

    id: str
    name: str
    role: Role
    tenant: str | None
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


def hash_key(key: str) -> str:
    """SHA-256 of a presented key.

    Keys carry 256 random bits, so a slow password hash would add latency to every
    request without adding safety; a fast hash of a high-entropy secret is the norm
    (GitHub and Stripe tokens are stored the same way).
    """
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def generate_key() -> tuple[str, str]:
    """A new key in the platform format and its id: shx_<12 hex id>_<43 chars secret>."""
    key_id = secrets.token_hex(6)
    return f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}", key_id


def _utc(value: datetime | None) -> datetime | None:
    # SQLite keeps no offset: what comes back naive was stored as UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _record(row: sa.Row[tuple[object, ...]]) -> ApiKeyRecord:
    m = row._mapping
    created_at = _utc(m["created_at"])
    assert created_at is not None
    return ApiKeyRecord(
        id=m["id"],
        name=m["name"],
        role=Role(m["role"]),
        tenant=m["tenant"],
        prefix=m["prefix"],
        created_at=created_at,
        revoked_at=_utc(m["revoked_at"]),
    )


class ApiKeyStore:
    """API keys in the database; only hashes are stored."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(
        self,
        *,
        role: Role,
        tenant: str | None = None,
        name: str = "",
        key: str | None = None,
    ) -> tuple[ApiKeyRecord, str]:
        """Store a new key and return it with its plaintext (shown once, never stored)."""
        if key is None:
            key, key_id = generate_key()
        else:
            if len(key) < MIN_BOOTSTRAP_KEY_LENGTH:
                raise ValueError(
                    f"a supplied key needs at least {MIN_BOOTSTRAP_KEY_LENGTH} characters"
                )
            key_id = secrets.token_hex(6)
        record = ApiKeyRecord(
            id=key_id,
            name=name or f"{role.value} key",
            role=role,
            tenant=tenant,
            prefix=key[:12],
            created_at=datetime.now(UTC),
            revoked_at=None,
        )
        with self._db.write() as conn:
            conn.execute(
                api_keys.insert().values(
                    id=record.id,
                    name=record.name,
                    role=record.role.value,
                    tenant=record.tenant,
                    key_hash=hash_key(key),
                    prefix=record.prefix,
                    created_at=record.created_at,
                )
            )
        return record, key

    def list(self, *, include_revoked: bool = False) -> list[ApiKeyRecord]:
        """Every key, oldest first."""
        query = sa.select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
        if not include_revoked:
            query = query.where(api_keys.c.revoked_at.is_(None))
        with self._db.read() as conn:
            return [_record(row) for row in conn.execute(query)]

    def revoke(self, key_id: str, *, tenant: str | None = None) -> bool:
        """Revoke a key by id (of TENANT only, when given); False when no such active key."""
        query = api_keys.update().where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        if tenant is not None:
            query = query.where(api_keys.c.tenant == tenant)
        with self._db.write() as conn:
            result = conn.execute(query.values(revoked_at=datetime.now(UTC)))
        return result.rowcount == 1

    def has_admin(self) -> bool:
        """Whether any active admin key exists (false on first start)."""
        query = sa.select(sa.func.count()).where(
            api_keys.c.role == Role.ADMIN.value, api_keys.c.revoked_at.is_(None)
        )
        with self._db.read() as conn:
            return bool(conn.execute(query).scalar_one())

    def find_by_hash(self, key_hash: str) -> Principal | None:
        """The principal of an active key with this hash, if any."""
        query = sa.select(api_keys).where(
            api_keys.c.key_hash == key_hash, api_keys.c.revoked_at.is_(None)
        )
        with self._db.read() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        record = _record(row)
        return Principal(key_id=record.id, role=record.role, tenant=record.tenant, name=record.name)


# Called on the event loop, for every request, with the SHA-256 hex of a presented key that
# matched no active key and the client address; it must be fast and must not block. A
# honeytoken registry subscribes here without the auth layer knowing about honeytokens.
UnknownCredentialListener = Callable[[str, str], None]


class Authenticator:
    """Resolves a Bearer header to a principal, caching hits and misses for a few seconds.

    The cache bounds how long a revocation made by another process can go unnoticed
    (security.api_key_cache); its size is bounded so random keys cannot grow it.
    """

    def __init__(
        self,
        store: ApiKeyStore,
        *,
        ttl_seconds: float,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._ttl = ttl_seconds
        self._max = max_entries
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, Principal | None]] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[Principal | None]] = {}
        self.listeners: list[UnknownCredentialListener] = []

    @staticmethod
    def parse_header(value: str | None) -> str:
        """Extract the key from 'Bearer <key>' or raise a 401 problem saying what is wrong."""
        if not value:
            raise Problem(
                401,
                "missing Authorization header: send 'Authorization: Bearer <api key>'",
                type="unauthenticated",
                headers={"WWW-Authenticate": 'Bearer realm="shieldx"'},
            )
        scheme, _, key = value.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key or " " in key or len(key) > _MAX_PRESENTED_KEY:
            raise Problem(
                401,
                "malformed Authorization header: expected 'Bearer <api key>'",
                type="unauthenticated",
                headers={"WWW-Authenticate": 'Bearer realm="shieldx", error="invalid_request"'},
            )
        return key

    async def principal_for(self, key: str, *, source: str = "") -> Principal | None:
        """The principal of KEY, or None; every refused key is reported to the listeners."""
        digest = hash_key(key)
        principal = await self._lookup(digest)
        if principal is None:
            for listener in self.listeners:
                try:
                    listener(digest, source)
                except Exception:
                    log.exception("auth.listener_failed")
        return principal

    async def _lookup(self, digest: str) -> Principal | None:
        entry = self._cache.get(digest)
        if entry is not None and self._clock() - entry[0] < self._ttl:
            return entry[1]
        pending = self._inflight.get(digest)
        if pending is not None:
            # Single flight: when an entry expires under load, one lookup serves every waiter.
            return await asyncio.shield(pending)
        future: asyncio.Future[Principal | None] = asyncio.get_running_loop().create_future()
        self._inflight[digest] = future
        try:
            principal = await anyio.to_thread.run_sync(self.resolve, digest)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved when nobody else was waiting
            raise
        finally:
            self._inflight.pop(digest, None)
        future.set_result(principal)
        return principal

    def resolve(self, digest: str) -> Principal | None:
        """Look the hash up in the database (blocking) and cache the answer."""
        principal = self._store.find_by_hash(digest)
        self._cache[digest] = (self._clock(), principal)
        self._cache.move_to_end(digest)
        while len(self._cache) > self._max:
            self._cache.popitem(last=False)
        return principal

    def forget(self, key_hashes: Iterable[str] | None = None) -> None:
        """Drop cached answers (all of them by default)."""
        if key_hashes is None:
            self._cache.clear()
            return
        for digest in key_hashes:
            self._cache.pop(digest, None)


def invalid_key() -> Problem:
    """The one answer for any key that is unknown, revoked or a honeytoken."""
    return Problem(
        401,
        "the API key is not valid (unknown or revoked)",
        type="unauthenticated",
        headers={"WWW-Authenticate": 'Bearer realm="shieldx", error="invalid_token"'},
    )


def require_role(principal: Principal, allowed: Iterable[Role]) -> None:
    """Raise 403 unless the principal's role is among ALLOWED."""
    allowed = tuple(allowed)
    if principal.role not in allowed:
        names = ", ".join(r.value for r in allowed)
        raise Problem(
            403,
            f"role {principal.role.value!r} may not do this; allowed roles: {names}",
            type="forbidden",
        )
