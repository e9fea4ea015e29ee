"""The locator application layer: issue, introspect, revoke, rotate, and stay in step with peers.

Methods that touch the database block and are marked so; the API runs them in worker
threads. Introspection and issuance are pure CPU on in-memory state, which `fetch_changes`
(blocking, read-only) and `apply` (cheap, on the caller's thread) keep current.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shieldx.config import Settings
from shieldx.locator.keys.keyset import KeySet
from shieldx.locator.metrics import LocatorMetrics
from shieldx.locator.state.store import (
    NewSigningKey,
    RevocationStore,
    SigningKeyRecord,
    SigningKeyStore,
    active_kids,
    read_versions,
)
from shieldx.locator.state.versionfile import Versions, version_file_for
from shieldx.locator.tokens.caches import RevokedSet, VerifiedTokenCache, token_digest
from shieldx.locator.tokens.domain import (
    INACTIVE_BODY,
    InvalidTokenRequest,
    TokenPolicy,
    VerifiedToken,
    admits,
    build_claims,
    check_claims,
    custom_claims,
    normalise_audience,
    scope_string,
    ttl_for,
)
from shieldx.locator.tokens.jws import (
    MAX_TOKEN_CHARS,
    TokenRejected,
    TokenSigner,
    public_key_x,
    thumbprint,
)
from shieldx.platform.crypto import Keyring
from shieldx.platform.db import Database

log = structlog.get_logger("shieldx.locator")


class NoSigningKey(Exception):
    """No key can sign yet (the service has not started or every key is retired)."""


@dataclass(frozen=True)
class IssuedToken:
    """A freshly signed access token."""

    access_token: str
    expires_in: int
    expires_at: int
    jti: str
    kid: str
    scope: str


@dataclass(frozen=True)
class Changes:
    """What a refresh found: newer counters, new revocations, a new key set if it changed."""

    versions: Versions
    revoked: list[tuple[str, int, int]] = field(default_factory=list)
    keys: KeySet | None = None


def issuer_of(settings: Settings) -> str:
    """The configured issuer, or http://<server.host>:<locator.port>."""
    configured = settings.locator.issuer
    if configured:
        return configured.rstrip("/")
    host = settings.server.host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{settings.locator.port}"


def policy_of(settings: Settings) -> TokenPolicy:
    """The token rules in force."""
    loc = settings.locator
    return TokenPolicy(
        issuer=issuer_of(settings),
        default_ttl=int(loc.default_ttl.total_seconds()),
        min_ttl=int(loc.min_ttl.total_seconds()),
        max_ttl=int(loc.max_ttl.total_seconds()),
        leeway=int(loc.clock_skew.total_seconds()),
        max_claims_bytes=loc.max_claims_bytes,
    )


class LocatorService:
    """Tokens signed with the newest key, verified against every published one."""

    def __init__(
        self,
        *,
        db: Database,
        keyring: Keyring,
        settings: Settings,
        metrics: LocatorMetrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.policy = policy_of(settings)
        self.grace = settings.locator.key_grace_period
        self.version_file = version_file_for(db)
        self.keys = SigningKeyStore(db, self.version_file)
        self.revocations = RevocationStore(db, self.version_file)
        self.revoked = RevokedSet()
        self.cache = VerifiedTokenCache(settings.locator.verified_cache_size)
        self.keyset = KeySet(version=-1)
        self.metrics = metrics
        self.db = db
        self._keyring = keyring
        self._clock = clock
        self._versions = Versions(revocation_seq=0, keys_version=-1)
        self._signers: dict[str, TokenSigner] = {}

    @property
    def applied_versions(self) -> Versions:
        """The counters this process's in-memory state reflects."""
        return self._versions

    def now(self) -> datetime:
        """The service clock as an aware datetime."""
        return datetime.fromtimestamp(self._clock(), UTC)

    # --- keeping in step with the database (blocking parts marked) -------------------------

    def start(self) -> None:
        """Blocking: create the first signing key when there is none, then load everything."""
        self.keys.publish_current()
        records = self.keys.records()
        first = not active_kids(records, self.now())
        if first and self.keys.add(
            self._new_key(), now=self.now(), grace=self.grace, only_if_none=True
        ):
            log.info("locator.signing_key_created", reason="first start")
        self.refresh()

    def close(self) -> None:
        """Release the version file's mapping."""
        if self.version_file is not None:
            self.version_file.close()

    def fetch_changes(self) -> Changes:
        """Blocking, read-only: the cheap version check, then only what is newer."""
        seen = self._versions
        versions = read_versions(self.db)
        revoked: list[tuple[str, int, int]] = []
        if versions.revocation_seq > seen.revocation_seq:
            revoked = self.revocations.since(seen.revocation_seq)
        keys = None
        if versions.keys_version != seen.keys_version:
            keys = self._load_keys(versions.keys_version)
        return Changes(versions=versions, revoked=revoked, keys=keys)

    def apply(self, changes: Changes) -> None:
        """Adopt what a refresh found (cheap; runs where the in-memory state lives)."""
        for jti, expires_at, _seq in changes.revoked:
            self.revoked.add(jti, expires_at)
        if changes.keys is not None:
            self.keyset = changes.keys
            self.cache.clear()
        self._versions = changes.versions

    def refresh(self) -> None:
        """Blocking: fetch and apply in one go (CLI, tests, benchmarks)."""
        self.apply(self.fetch_changes())

    def _load_keys(self, version: int) -> KeySet:
        records = self.keys.records()
        signer = None
        for kid in active_kids(records, self.now())[-1:]:
            signer = self._signers.get(kid)
            if signer is None:
                sealed = self.keys.sealed_private_key(kid)
                raw = self._keyring.decrypt(sealed, context=f"locator.signing_key:{kid}")
                signer = TokenSigner(kid, Ed25519PrivateKey.from_private_bytes(raw))
                self._signers = {kid: signer}
        return KeySet.build(version, records, signer)

    def _new_key(self) -> NewSigningKey:
        private = Ed25519PrivateKey.generate()
        x = public_key_x(private.public_key())
        kid = thumbprint(x)
        sealed = self._keyring.encrypt(
            private.private_bytes_raw(), context=f"locator.signing_key:{kid}"
        )
        return NewSigningKey(kid=kid, public_x=x, sealed_private_key=sealed)

    def maintain(self) -> tuple[list[str], int]:
        """Blocking: retire keys past their grace period, delete revocations of expired tokens."""
        now = self._clock()
        retired = self.keys.retire_due(now=self.now())
        pruned = self.revocations.prune(expired_before=int(now) - self.policy.leeway)
        if retired or pruned:
            log.info("locator.maintenance", retired_keys=retired, pruned_revocations=pruned)
        return retired, pruned

    def forget_expired(self) -> int:
        """Drop in-memory revocations of tokens that can no longer verify anyway."""
        return self.revoked.prune(expired_before=self._clock() - self.policy.leeway)

    # --- keys ---------------------------------------------------------------------------------

    def rotate(self) -> str:
        """Blocking: a new key signs from now on; the previous one verifies for the grace period.

        This process adopts it at its next refresh (call refresh() when not serving).
        """
        key = self._new_key()
        self.keys.add(key, now=self.now(), grace=self.grace)
        log.info("locator.signing_key_rotated", kid=key.kid, grace=str(self.grace))
        return key.kid

    def retire(self, kid: str) -> None:
        """Blocking: retire a superseded key now (LookupError, or ValueError for the active one)."""
        self.keys.retire(kid, now=self.now())
        log.info("locator.signing_key_retired", kid=kid)

    def key_records(self) -> list[SigningKeyRecord]:
        """Blocking: every signing key's public record."""
        return self.keys.records()

    def jwks_body(self) -> bytes:
        """The published JWKS."""
        return self.keyset.jwks_body(self.now())

    # --- tokens -------------------------------------------------------------------------------

    def issue(
        self,
        *,
        subject: str,
        audience: str | Sequence[str],
        scopes: Sequence[str] = (),
        client_id: str,
        tenant: str,
        ttl_seconds: int | None = None,
        claims: Mapping[str, Any] | None = None,
        idp: str | None = None,
    ) -> IssuedToken:
        """Sign an access token (InvalidTokenRequest names the bad field)."""
        signer = self.keyset.signer
        if signer is None:
            raise NoSigningKey("no active signing key: run 'shieldx locator keys rotate'")
        ttl = ttl_for(ttl_seconds, self.policy)
        extra = custom_claims(claims, self.policy.max_claims_bytes)
        if idp is not None:
            extra["idp"] = idp
        for name, value in (("subject", subject), ("client_id", client_id), ("tenant", tenant)):
            if not value or len(value) > 256:
                raise InvalidTokenRequest(f"{name} must be 1 to 256 characters")
        scope = scope_string(scopes)
        now = int(self._clock())
        jti = secrets.token_urlsafe(16)
        claim_set = build_claims(
            policy=self.policy,
            subject=subject,
            audience=normalise_audience(audience),
            scope=scope,
            client_id=client_id,
            tenant=tenant,
            ttl=ttl,
            now=now,
            jti=jti,
            extra=extra,
        )
        started = time.perf_counter()
        token = signer.sign(claim_set)
        self.metrics.signing.observe(time.perf_counter() - started)
        self.metrics.issued.inc()
        return IssuedToken(
            access_token=token,
            expires_in=ttl,
            expires_at=now + ttl,
            jti=jti,
            kid=signer.kid,
            scope=scope,
        )

    def verify(self, token: str) -> VerifiedToken:
        """Signature, key and claims of TOKEN, through the cache; TokenRejected otherwise.

        Assumes the in-memory state is fresh (the API refreshes before calling).
        """
        if len(token) > MAX_TOKEN_CHARS:
            raise TokenRejected("malformed")  # before hashing: the body limit is far larger
        now = self._clock()
        digest = token_digest(token)
        verified = self.cache.get(digest)
        if verified is None:
            key, claims = self.keyset.verifier.verify(token, now=now)
            verified = check_claims(claims, key=key, policy=self.policy, now=now)
            if verified.jti in self.revoked:
                raise TokenRejected("revoked")
            self.cache.put(digest, verified)
            return verified
        if not verified.active_at(now):
            self.cache.discard(digest)
            raise TokenRejected("expired")
        if verified.jti in self.revoked:
            self.cache.discard(digest)
            raise TokenRejected("revoked")
        return verified

    def introspect(
        self, token: str, *, audience: str | None = None, tenant_scope: str | None = None
    ) -> bytes:
        """The RFC 7662 answer: the active token's claims, or exactly {"active": false}."""
        try:
            verified = self.verify(token)
        except TokenRejected as exc:
            self.metrics.rejections.labels(exc.reason).inc()
            self.metrics.inactive.inc()
            return INACTIVE_BODY
        visible = tenant_scope is None or tenant_scope == verified.tenant
        if not admits(verified, audience=audience, tenant_visible=visible):
            reason = "wrong_audience" if visible else "other_tenant"
            self.metrics.rejections.labels(reason).inc()
            self.metrics.inactive.inc()
            return INACTIVE_BODY
        self.metrics.active.inc()
        return verified.body

    def revocable(self, token: str, *, tenant_scope: str | None = None) -> VerifiedToken | None:
        """The token to revoke, or None when there is nothing to do (RFC 7009: answer alike)."""
        try:
            verified = self.verify(token)
        except TokenRejected:
            return None
        if tenant_scope is not None and tenant_scope != verified.tenant:
            return None
        return verified

    def persist_revocation(self, verified: VerifiedToken) -> bool:
        """Blocking: store the revocation so every process refuses the token; True if new."""
        new = self.revocations.revoke(verified.jti, expires_at=verified.exp, now=self.now())
        if new:
            self.metrics.revocations.inc()
            log.info("locator.token_revoked", jti=verified.jti, kid=verified.kid)
        return new

    def revoke(self, token: str, *, tenant_scope: str | None = None) -> bool:
        """Blocking: revoke TOKEN if it is valid and visible; True when newly revoked."""
        verified = self.revocable(token, tenant_scope=tenant_scope)
        if verified is None:
            return False
        new = self.persist_revocation(verified)
        self.revoked.add(verified.jti, verified.exp)
        return new
