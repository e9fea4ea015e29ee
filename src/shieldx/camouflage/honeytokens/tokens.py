"""Fresh credentials that look exactly like real ones (the values of honeytokens). Pure.

* API keys in the platform's own format (``shieldx.platform.auth.generate_key``);
* locator-style access tokens: an EdDSA JWS with the header locator writes
  ({"alg": "EdDSA", "typ": "at+jwt", "kid": <RFC 7638 thumbprint>}) and RFC 9068 claims,
  signed with a throwaway key made at start-up that no JWKS publishes, so it never verifies;
* database passwords of the kind people put in config files;
* cloud access keys: an AKIA… key id and its 40-character secret.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import string
import time
from typing import TYPE_CHECKING

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shieldx.platform.auth import generate_key

if TYPE_CHECKING:
    from shieldx.config import Settings

_AWS_ID_ALPHABET = string.ascii_uppercase + "234567"
_AWS_SECRET_ALPHABET = string.ascii_letters + string.digits + "/+"
_PASSWORD_SYMBOLS = "!@#%^*-_+="  # noqa: S105 (an alphabet)
_SCOPES = ("credits:read", "credits:read credits:write", "shadow:read", "admin")
_SUBJECTS = ("svc-billing", "svc-reporting", "deploy-bot", "svc-portal", "backup-agent")


def jwt_issuer(settings: Settings) -> str:
    """The 'iss' planted JWTs carry: configured, else the locator's, else its default."""
    return (
        settings.camouflage.honeytokens.jwt_issuer
        or settings.locator.issuer
        or f"http://{settings.server.host}:{settings.locator.port}"
    )


def b64url(data: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def api_key() -> str:
    """A key in the platform format: shx_<12 hex>_<43 url-safe characters>."""
    key, _ = generate_key()
    return key


def password() -> str:
    """A 16-character password with upper, lower, digit and symbol."""
    classes = (string.ascii_uppercase, string.ascii_lowercase, string.digits, _PASSWORD_SYMBOLS)
    chars = [secrets.choice(c) for c in classes]
    pool = "".join(classes)
    chars += [secrets.choice(pool) for _ in range(12)]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def cloud_key() -> tuple[str, str]:
    """An access key id (AKIA + 16) and its secret (40 characters)."""
    key_id = "AKIA" + "".join(secrets.choice(_AWS_ID_ALPHABET) for _ in range(16))
    secret = "".join(secrets.choice(_AWS_SECRET_ALPHABET) for _ in range(40))
    return key_id, secret


class DecoyTokenSigner:
    """Signs locator-style access tokens with a throwaway Ed25519 key (in no JWKS)."""

    def __init__(self, *, issuer: str, audience: str = "shieldx") -> None:
        self.issuer = issuer
        self.audience = audience
        self._key = Ed25519PrivateKey.generate()
        x = b64url(self._key.public_key().public_bytes_raw())
        canonical = orjson.dumps({"crv": "Ed25519", "kty": "OKP", "x": x})
        self.kid = b64url(hashlib.sha256(canonical).digest())
        header = orjson.dumps({"alg": "EdDSA", "typ": "at+jwt", "kid": self.kid})
        self._prefix = b64url(header) + "."

    def token(self, *, tenant: str = "default", now: float | None = None) -> str:
        """A signed token with plausible claims, valid for a day from NOW."""
        issued = int(time.time() if now is None else now)
        claims = {
            "iss": self.issuer,
            "sub": secrets.choice(_SUBJECTS),
            "aud": self.audience,
            "exp": issued + 86_400,
            "iat": issued,
            "jti": secrets.token_hex(16),
            "client_id": secrets.choice(_SUBJECTS),
            "scope": secrets.choice(_SCOPES),
            "tenant": tenant,
        }
        signing_input = self._prefix + b64url(orjson.dumps(claims))
        signature = self._key.sign(signing_input.encode("ascii"))
        return signing_input + "." + b64url(signature)
