"""JWS compact serialisation for EdDSA (RFC 7515, RFC 8037), JWKs and thumbprints: pure code.

Signing is written here rather than with PyJWT: `jwt.encode` re-prepares the key, merges
and re-serialises the header and looks the algorithm up on every call, which measured
40-50 % on top of the Ed25519 signature itself (medians 74 µs against 48 µs raw; this
module: 53 µs). The compact form is three base64url segments, so doing it directly keeps
issuance near the raw signing rate.
Verification is equally narrow on purpose: the header segment must be byte-for-byte one
we produce for a known key, so 'alg' is never read from an attacker and no algorithm
other than EdDSA can be selected.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALGORITHM = "EdDSA"
TOKEN_TYPE = "at+jwt"  # noqa: S105 (the JWT typ, not a secret)
MAX_TOKEN_CHARS = 8192
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")
_SIGNATURE_BYTES = 64


class TokenRejected(Exception):
    """A token failed verification; `reason` is a stable slug for logs and metrics."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def b64url(data: bytes) -> str:
    """Unpadded base64url (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict unpadded base64url: only the URL alphabet, and only the canonical encoding.

    Python's decoder skips foreign characters and ignores stray trailing bits, which would
    let one token be written many ways; re-encoding and comparing closes that.
    """
    if not _B64URL.match(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:
        raise ValueError("not base64url") from exc
    if b64url(raw) != text:
        raise ValueError("non-canonical base64url")
    return raw


def header_segment(kid: str) -> str:
    """The encoded protected header of every token signed by key KID."""
    return b64url(orjson.dumps({"alg": ALGORITHM, "typ": TOKEN_TYPE, "kid": kid}))


def public_key_x(public_key: Ed25519PublicKey) -> str:
    """The JWK 'x' member of an Ed25519 public key."""
    return b64url(public_key.public_bytes_raw())


def thumbprint(x: str) -> str:
    """RFC 7638 JWK thumbprint (SHA-256) of the OKP/Ed25519 key with public value X."""
    canonical = orjson.dumps({"crv": "Ed25519", "kty": "OKP", "x": x})
    return b64url(hashlib.sha256(canonical).digest())


def public_jwk(kid: str, x: str) -> dict[str, str]:
    """The published JWK of a verification key (RFC 8037)."""
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "use": "sig", "alg": ALGORITHM}


def load_public_key(x: str) -> Ed25519PublicKey:
    """The Ed25519 public key of a JWK 'x' value."""
    return Ed25519PublicKey.from_public_bytes(b64url_decode(x))


class TokenSigner:
    """Signs claims with one Ed25519 key into a compact JWS."""

    def __init__(self, kid: str, private_key: Ed25519PrivateKey) -> None:
        self.kid = kid
        self._key = private_key
        self._prefix = header_segment(kid) + "."

    def sign(self, claims: Mapping[str, Any]) -> str:
        """The compact serialisation header.payload.signature of CLAIMS."""
        signing_input = self._prefix + b64url(orjson.dumps(claims))
        signature = self._key.sign(signing_input.encode("ascii"))
        return signing_input + "." + b64url(signature)


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """A published key: tokens it signed verify until `valid_until` (epoch seconds)."""

    kid: str
    public_key: Ed25519PublicKey
    valid_until: float = float("inf")


class SignatureVerifier:
    """Checks the header and signature of a compact JWS and returns its decoded claims."""

    def __init__(self, keys: Mapping[str, VerificationKey]) -> None:
        self._by_header = {header_segment(kid): key for kid, key in keys.items()}

    def verify(self, token: str, *, now: float) -> tuple[VerificationKey, dict[str, Any]]:
        """The key that signed TOKEN and its claims; TokenRejected when anything is off."""
        if not token.isascii() or len(token) > MAX_TOKEN_CHARS:
            raise TokenRejected("malformed")
        parts = token.split(".")
        if len(parts) != 3:
            raise TokenRejected("malformed")
        header, payload, signature = parts
        key = self._by_header.get(header)
        if key is None:
            raise TokenRejected(classify_header(header))
        if now >= key.valid_until:
            raise TokenRejected("retired_key")
        try:
            raw_signature = b64url_decode(signature)
        except ValueError:
            raise TokenRejected("malformed") from None
        if len(raw_signature) != _SIGNATURE_BYTES:
            raise TokenRejected("bad_signature")
        try:
            key.public_key.verify(raw_signature, f"{header}.{payload}".encode("ascii"))
        except InvalidSignature:
            raise TokenRejected("bad_signature") from None
        try:
            claims = orjson.loads(b64url_decode(payload))
        except (ValueError, orjson.JSONDecodeError):
            raise TokenRejected("malformed") from None
        if not isinstance(claims, dict):
            raise TokenRejected("malformed")
        return key, claims


def classify_header(header: str) -> str:
    """Why a header is not one of ours (for logs and metrics; the answer is the same)."""
    try:
        parsed = orjson.loads(b64url_decode(header))
    except (ValueError, orjson.JSONDecodeError):
        return "malformed"
    if not isinstance(parsed, dict):
        return "malformed"
    if parsed.get("alg") != ALGORITHM:
        return "algorithm_not_allowed"
    if set(parsed) != {"alg", "typ", "kid"} or parsed.get("typ") != TOKEN_TYPE:
        return "bad_header"
    return "unknown_key"
