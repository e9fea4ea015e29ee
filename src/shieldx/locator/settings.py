"""Settings sections owned by the locator token service."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Self

from pydantic import Field, model_validator

from shieldx.platform.settings_types import Duration, Port, Section, format_duration

# Algorithms an external OIDC issuer may sign ID tokens with; 'none' and the HMAC family
# are absent on purpose (an HMAC "verified" with a public key is the classic confusion attack).
OIDC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


class OidcSettings(Section):
    """Token exchange (RFC 8693) of ID tokens from one external OIDC issuer; off by default."""

    enabled: bool = False
    issuer: str = ""
    jwks_url: str = ""
    jwks_file: Path | None = None
    audience: str = ""
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256", "EdDSA"])
    jwks_cache: Duration = timedelta(minutes=5)

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> Self:
        bad = sorted(set(self.algorithms) - OIDC_ALGORITHMS)
        if bad:
            raise ValueError(
                f"locator.oidc.algorithms: {', '.join(bad)} not allowed; "
                f"choose from {', '.join(sorted(OIDC_ALGORITHMS))}"
            )
        if not self.enabled:
            return self
        if not self.issuer or not self.audience:
            raise ValueError(
                "locator.oidc.enabled needs locator.oidc.issuer and locator.oidc.audience "
                "(the external issuer's URL and the client id its ID tokens are issued to)"
            )
        if bool(self.jwks_url) == (self.jwks_file is not None):
            raise ValueError(
                "locator.oidc.enabled needs exactly one of locator.oidc.jwks_url "
                "and locator.oidc.jwks_file"
            )
        if not self.algorithms:
            raise ValueError("locator.oidc.algorithms must name at least one algorithm")
        return self


class LocatorSettings(Section):
    """The locator token service (:8080)."""

    port: Port = 8080
    # The 'iss' of every token and the base of the discovery URLs; when unset it is
    # http://<server.host>:<locator.port>. Set it to the public URL in production.
    issuer: str | None = None
    default_ttl: Duration = timedelta(minutes=15)
    min_ttl: Duration = timedelta(seconds=30)
    max_ttl: Duration = timedelta(hours=24)
    clock_skew: Duration = timedelta(seconds=30)
    key_grace_period: Duration = timedelta(hours=24)
    # 0: every introspection checks the revocation version (one query per burst of requests).
    revocation_refresh: Duration = timedelta(0)
    verified_cache_size: int = Field(10_000, ge=0, le=1_000_000)
    max_claims_bytes: int = Field(4096, ge=0, le=65_536)
    maintenance_interval: Duration = timedelta(minutes=1)
    jwks_max_age: Duration = timedelta(minutes=5)
    oidc: OidcSettings = OidcSettings()

    @model_validator(mode="after")
    def _consistent_lifetimes(self) -> Self:
        if not timedelta(seconds=1) <= self.min_ttl <= self.default_ttl <= self.max_ttl:
            raise ValueError(
                "locator TTLs must satisfy 1s <= min_ttl <= default_ttl <= max_ttl "
                f"(got {format_duration(self.min_ttl)}, {format_duration(self.default_ttl)}, "
                f"{format_duration(self.max_ttl)})"
            )
        if self.max_ttl > timedelta(days=30):
            raise ValueError("locator.max_ttl must be at most 30d: these are short-lived tokens")
        if self.clock_skew > timedelta(minutes=5):
            raise ValueError("locator.clock_skew must be at most 5m")
        if self.key_grace_period < self.max_ttl:
            raise ValueError(
                "locator.key_grace_period must be at least locator.max_ttl, or tokens signed "
                "just before a rotation would stop verifying before they expire "
                f"(got {format_duration(self.key_grace_period)} < "
                f"{format_duration(self.max_ttl)})"
            )
        if self.maintenance_interval < timedelta(seconds=1):
            raise ValueError("locator.maintenance_interval must be at least 1s")
        return self
