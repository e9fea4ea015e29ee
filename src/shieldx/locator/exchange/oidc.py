"""ID tokens from one external OIDC issuer, verified against its JWKS (for RFC 8693 exchange).

Unlike our own tokens, these come from someone else's signer with someone else's
algorithms, so verification goes through PyJWT, with the algorithm pinned per call to
one from `locator.oidc.algorithms` that also matches the key's type.
"""

from __future__ import annotations

import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import orjson
import structlog

from shieldx.locator.settings import OidcSettings

log = structlog.get_logger("shieldx.locator.oidc")
MAX_JWKS_BYTES = 1_048_576
FETCH_TIMEOUT_SECONDS = 5.0
# An unknown kid triggers a refetch (the issuer may have rotated), but at most this often.
MIN_REFETCH_SECONDS = 10.0
_KEY_TYPES: dict[str, tuple[str, frozenset[str | None]]] = {
    **{a: ("RSA", frozenset({None})) for a in ("RS256", "RS384", "RS512")},
    **{a: ("RSA", frozenset({None})) for a in ("PS256", "PS384", "PS512")},
    "ES256": ("EC", frozenset({"P-256"})),
    "ES384": ("EC", frozenset({"P-384"})),
    "ES512": ("EC", frozenset({"P-521"})),
    "EdDSA": ("OKP", frozenset({"Ed25519", "Ed448"})),
}


class InvalidIdToken(Exception):
    """The subject token is not a valid ID token of the configured issuer."""


class JwksUnavailable(Exception):
    """The issuer's JWKS could not be read (and no earlier copy is at hand)."""


class JwksSource:
    """The issuer's keys from a URL or a file, cached for `max_age` seconds."""

    def __init__(
        self,
        *,
        url: str = "",
        file: Path | None = None,
        max_age: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if url and urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"locator.oidc.jwks_url must be an http(s) URL (got {url!r})")
        self._url = url
        self._file = file
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: list[dict[str, Any]] | None = None
        self._fetched_at = float("-inf")

    def keys(self, *, refetch: bool = False) -> list[dict[str, Any]]:
        """The JWKs (blocking: may read the file or fetch the URL)."""
        with self._lock:
            age = self._clock() - self._fetched_at
            stale = age >= self._max_age or (refetch and age >= MIN_REFETCH_SECONDS)
            if self._keys is None or stale:
                try:
                    self._keys = self._load()
                    self._fetched_at = self._clock()
                except (OSError, ValueError) as exc:
                    if self._keys is None:
                        raise JwksUnavailable(f"cannot read the issuer's JWKS: {exc}") from exc
                    log.warning("locator.oidc.jwks_refresh_failed", error=str(exc))
            return self._keys

    def _load(self) -> list[dict[str, Any]]:
        if self._file is not None:
            raw = self._file.read_bytes()
        else:
            # The scheme was checked in __init__ (http or https only).
            request = urllib.request.Request(self._url, headers={"Accept": "application/json"})  # noqa: S310
            with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310
                raw = response.read(MAX_JWKS_BYTES + 1)
            if len(raw) > MAX_JWKS_BYTES:
                raise ValueError("JWKS document larger than 1 MiB")
        doc = orjson.loads(raw)
        keys = doc.get("keys") if isinstance(doc, dict) else None
        if not isinstance(keys, list) or not all(isinstance(k, dict) for k in keys):
            raise ValueError("not a JWK Set (expected {'keys': [...]})")
        return keys


def key_for(jwk: dict[str, Any], algorithm: str) -> Any:
    """The verification key of JWK for ALGORITHM, refusing any mismatch of type or use."""
    kty, curves = _KEY_TYPES[algorithm]
    if jwk.get("kty") != kty or jwk.get("crv") not in curves:
        raise InvalidIdToken(f"key {jwk.get('kid')!r} cannot verify {algorithm}")
    if jwk.get("alg") not in (None, algorithm) or jwk.get("use") not in (None, "sig"):
        raise InvalidIdToken(f"key {jwk.get('kid')!r} is not published for {algorithm} signatures")
    try:
        return jwt.PyJWK(jwk, algorithm=algorithm).key
    except jwt.PyJWTError as exc:
        raise InvalidIdToken(f"key {jwk.get('kid')!r} is unusable: {exc}") from None


class IdTokenVerifier:
    """Checks signature, issuer, audience and lifetime of an external ID token."""

    def __init__(self, settings: OidcSettings, *, leeway: float, source: JwksSource) -> None:
        self.issuer = settings.issuer
        self._audience = settings.audience
        self._algorithms = frozenset(settings.algorithms)
        self._leeway = leeway
        self._source = source

    @classmethod
    def from_settings(cls, settings: OidcSettings, *, leeway: float) -> IdTokenVerifier:
        """A verifier reading the JWKS the settings name."""
        source = JwksSource(
            url=settings.jwks_url,
            file=settings.jwks_file,
            max_age=settings.jwks_cache.total_seconds(),
        )
        return cls(settings, leeway=leeway, source=source)

    def verify(self, token: str) -> dict[str, Any]:
        """Blocking: the verified claims of TOKEN (InvalidIdToken says why not)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidIdToken("not a JWS compact token") from None
        algorithm = header.get("alg")
        if algorithm not in self._algorithms:
            raise InvalidIdToken(f"algorithm {algorithm!r} is not allowed")
        jwk = self._find(header.get("kid"))
        key = key_for(jwk, algorithm)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[algorithm],
                audience=self._audience,
                issuer=self.issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidIdToken(str(exc)) from None
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise InvalidIdToken("the ID token has no subject")
        return claims

    def _find(self, kid: object) -> dict[str, Any]:
        for refetch in (False, True):
            keys = [k for k in self._source.keys(refetch=refetch) if k.get("kty") != "oct"]
            if kid is None and len(keys) == 1:
                return keys[0]
            for jwk in keys:
                if kid is not None and jwk.get("kid") == kid:
                    return jwk
        raise InvalidIdToken(f"no key {kid!r} in the issuer's JWKS")
