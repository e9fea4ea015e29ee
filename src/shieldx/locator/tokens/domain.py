"""Access-token rules: claims (RFC 9068), lifetimes, validation and introspection answers. Pure."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from shieldx.locator.tokens.jws import TokenRejected, VerificationKey

# Claims a caller cannot set through `claims`: the registered JWT claims, the RFC 9068
# profile, ours, and the RFC 7662 response members a custom claim would shadow.
RESERVED_CLAIMS = frozenset(
    {
        "iss", "sub", "aud", "exp", "nbf", "iat", "jti",
        "client_id", "scope", "auth_time", "acr", "amr", "cnf",
        "tenant", "idp",
        "active", "token_type", "username",
    }
)  # fmt: skip
# RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")
MAX_NAME = 256
MAX_AUDIENCES = 16
MAX_SCOPES = 64
INACTIVE_BODY = b'{"active":false}'
TOKEN_TYPE_BEARER = "Bearer"  # noqa: S105 (a token type name, not a secret)
EXCHANGE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"


class InvalidTokenRequest(ValueError):
    """A token cannot be issued as asked; the message names the field and the rule."""


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    """Issuer and lifetime rules, in seconds."""

    issuer: str
    default_ttl: int
    min_ttl: int
    max_ttl: int
    leeway: int
    max_claims_bytes: int = 4096


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """A token whose signature and claims checked out, with its introspection answer."""

    kid: str
    jti: str
    exp: int
    tenant: str
    audiences: tuple[str, ...]
    valid_until: float  # epoch seconds after which it is inactive (expiry + leeway, key)
    body: bytes  # the RFC 7662 answer, rendered once

    def active_at(self, now: float) -> bool:
        """Whether time alone still allows the token at NOW."""
        return now < self.valid_until


def _text(name: str, value: object, *, limit: int = MAX_NAME) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidTokenRequest(
            f"{name} must be a non-empty string of at most {limit} characters"
        )
    return value


def ttl_for(requested: int | None, policy: TokenPolicy) -> int:
    """The lifetime to grant: the default, or the requested one when within the bounds."""
    if requested is None:
        return policy.default_ttl
    if not policy.min_ttl <= requested <= policy.max_ttl:
        raise InvalidTokenRequest(
            f"ttl_seconds must be between {policy.min_ttl} and {policy.max_ttl} (got {requested})"
        )
    return requested


def normalise_audience(audience: str | Sequence[str]) -> str | list[str]:
    """One audience as a string, several as a list; each non-empty and bounded."""
    if isinstance(audience, str):
        return _text("audience", audience)
    items = list(audience)
    if not 1 <= len(items) <= MAX_AUDIENCES:
        raise InvalidTokenRequest(f"audience must name 1 to {MAX_AUDIENCES} audiences")
    return [_text("audience", item) for item in items]


def scope_string(scopes: Sequence[str]) -> str:
    """RFC 6749 scope: distinct scope tokens joined by spaces, in the order given."""
    if len(scopes) > MAX_SCOPES:
        raise InvalidTokenRequest(f"scopes may list at most {MAX_SCOPES} entries")
    seen: dict[str, None] = {}
    for scope in scopes:
        if not isinstance(scope, str) or not _SCOPE_TOKEN.match(scope) or len(scope) > MAX_NAME:
            raise InvalidTokenRequest(
                f"scope {scope!r} is not a valid scope token (printable ASCII, no spaces, "
                "quotes or backslashes)"
            )
        seen[scope] = None
    return " ".join(seen)


def custom_claims(extra: Mapping[str, Any] | None, max_bytes: int) -> dict[str, Any]:
    """Validated extra claims: no reserved names, JSON-serialisable, within the size limit."""
    if not extra:
        return {}
    for name in extra:
        if not isinstance(name, str) or not name or len(name) > 64:
            raise InvalidTokenRequest("claim names must be 1 to 64 characters")
    # Case-insensitively: a consumer that folds case would read `ISS` as the issuer.
    reserved = sorted(name for name in extra if name.lower() in RESERVED_CLAIMS)
    if reserved:
        raise InvalidTokenRequest(f"claims cannot set reserved claims: {', '.join(reserved)}")
    bad = _non_finite(extra)
    if bad is not None:
        # JSON has no NaN or Infinity: encoding would silently turn them into null.
        raise InvalidTokenRequest(
            f"claim {bad} is not a finite number (NaN and Infinity are not JSON)"
        )
    try:
        size = len(orjson.dumps(extra))
    except TypeError as exc:
        raise InvalidTokenRequest(f"claims must be JSON values: {exc}") from None
    if size > max_bytes:
        raise InvalidTokenRequest(f"claims encode to {size} bytes; the limit is {max_bytes}")
    return dict(extra)


def _non_finite(value: Any, path: str = "") -> str | None:
    """The path of the first NaN or infinite number inside VALUE, if any."""
    if isinstance(value, float):
        return None if math.isfinite(value) else path or "value"
    items: Any = ()
    if isinstance(value, Mapping):
        items = ((f"{path}.{key}" if path else str(key), item) for key, item in value.items())
    elif isinstance(value, list | tuple):
        items = ((f"{path}[{i}]", item) for i, item in enumerate(value))
    for where, item in items:
        found = _non_finite(item, where)
        if found is not None:
            return found
    return None


def build_claims(
    *,
    policy: TokenPolicy,
    subject: str,
    audience: str | list[str],
    scope: str,
    client_id: str,
    tenant: str,
    ttl: int,
    now: int,
    jti: str,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The RFC 9068 claim set (plus scope and tenant); arguments are already validated."""
    claims: dict[str, Any] = dict(extra) if extra else {}
    claims.update(
        iss=policy.issuer,
        sub=subject,
        aud=audience,
        exp=now + ttl,
        iat=now,
        jti=jti,
        client_id=client_id,
        scope=scope,
        tenant=tenant,
    )
    return claims


def _int(claims: Mapping[str, Any], name: str) -> int:
    value = claims.get(name)
    if type(value) is not int:
        raise TokenRejected("bad_claims")
    return value


def _str(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    if type(value) is not str:
        raise TokenRejected("bad_claims")
    return value


def check_claims(
    claims: dict[str, Any], *, key: VerificationKey, policy: TokenPolicy, now: float
) -> VerifiedToken:
    """Apply issuer and time rules (with the clock-skew leeway) to verified claims."""
    if claims.get("iss") != policy.issuer:
        raise TokenRejected("wrong_issuer")
    exp = _int(claims, "exp")
    iat = _int(claims, "iat")
    if now >= exp + policy.leeway:
        raise TokenRejected("expired")
    if "nbf" in claims and _int(claims, "nbf") > now + policy.leeway:
        raise TokenRejected("not_yet_valid")
    if iat > now + policy.leeway:
        raise TokenRejected("issued_in_future")
    aud = claims.get("aud")
    if type(aud) is str:
        audiences: tuple[str, ...] = (aud,)
    elif type(aud) is list and aud and all(type(a) is str for a in aud):
        audiences = tuple(aud)
    else:
        raise TokenRejected("bad_claims")
    for name in ("sub", "client_id", "scope"):
        _str(claims, name)
    return VerifiedToken(
        kid=key.kid,
        jti=_str(claims, "jti"),
        exp=exp,
        tenant=_str(claims, "tenant"),
        audiences=audiences,
        valid_until=min(exp + policy.leeway, key.valid_until),
        body=introspection_body(claims),
    )


def introspection_body(claims: Mapping[str, Any]) -> bytes:
    """The RFC 7662 answer for an active token: active, token_type, then every claim."""
    return orjson.dumps({"active": True, "token_type": TOKEN_TYPE_BEARER, **claims})


def admits(token: VerifiedToken, *, audience: str | None, tenant_visible: bool) -> bool:
    """Whether a caller who names AUDIENCE (optional) and can see the tenant may use TOKEN."""
    if not tenant_visible:
        return False
    return audience is None or audience in token.audiences


def discovery_document(issuer: str, *, token_exchange: bool) -> dict[str, Any]:
    """Authorization-server metadata (RFC 8414 names; served as openid-configuration too)."""
    doc: dict[str, Any] = {
        "issuer": issuer,
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "issue_endpoint": f"{issuer}/issue",
        "introspection_endpoint": f"{issuer}/introspect",
        "revocation_endpoint": f"{issuer}/revoke",
        "access_token_signing_alg_values_supported": ["EdDSA"],
        "token_types_supported": ["at+jwt"],
    }
    if token_exchange:
        doc["token_endpoint"] = f"{issuer}/token/exchange"
        doc["grant_types_supported"] = [EXCHANGE_GRANT_TYPE]
    return doc
