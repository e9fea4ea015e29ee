"""Credential values that look like the ones real stacks leak (the values of honeytokens). Pure.

Nothing here names this product: the shapes are those of common third-party credentials,

* ``cloud_key``: an AWS access key id (``AKIA`` + 16 base32 characters) and its 40-character
  secret;
* ``api_key``: a Stripe live secret key (``sk_live_`` + 24 alphanumerics);
* ``jwt``: an HS256 JSON Web Token with ordinary claims (``iss``, ``sub``, ``aud``, ``iat``,
  ``exp``, ``jti``) signed with a key nobody has, so it never verifies anywhere;
* ``password``: a 16-character password with upper, lower, digit and symbol.

Every value is derived from a seed (HMAC-SHA256 as a stream), so a file is the same bytes each
time it is served: the seed is a per-install secret mixed with the decoy and the path (bait
files) or with the session marker too (maze files). ``fresh_*`` draw from the OS instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string

import orjson

_AWS_ID_ALPHABET = string.ascii_uppercase + "234567"
_AWS_SECRET_ALPHABET = string.ascii_letters + string.digits + "/+"
_ALNUM = string.ascii_letters + string.digits
_PASSWORD_SYMBOLS = "!@#%^*-_+="  # noqa: S105 (an alphabet)
_PASSWORD_CLASSES = (
    string.ascii_uppercase,
    string.ascii_lowercase,
    string.digits,
    _PASSWORD_SYMBOLS,
)
_SUBJECTS = ("svc-billing", "svc-reporting", "deploy-bot", "api-gateway", "backup-agent", "ci")
_DAY = 86_400


def b64url(data: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Stream:
    """Deterministic bytes from a seed: HMAC-SHA256(seed, label || counter) blocks."""

    def __init__(self, seed: bytes) -> None:
        self._seed = seed

    def bytes(self, label: str, n: int) -> bytes:
        """N bytes for LABEL (the same seed and label always give the same bytes)."""
        out = bytearray()
        counter = 0
        while len(out) < n:
            msg = f"{label}\x00{counter}".encode()
            out += hmac.new(self._seed, msg, hashlib.sha256).digest()
            counter += 1
        return bytes(out[:n])

    def chars(self, label: str, alphabet: str, n: int) -> str:
        """N characters of ALPHABET for LABEL (rejection sampling, so unbiased)."""
        limit = 256 - 256 % len(alphabet)
        out: list[str] = []
        block = 0
        while len(out) < n:
            for byte in self.bytes(f"{label}/{block}", 2 * n):
                if byte < limit and len(out) < n:
                    out.append(alphabet[byte % len(alphabet)])
            block += 1
        return "".join(out)

    def number(self, label: str, low: int, high: int) -> int:
        """An integer in [low, high] for LABEL."""
        span = high - low + 1
        return low + int.from_bytes(self.bytes(label, 8), "big") % span

    def choice(self, label: str, options: tuple[str, ...]) -> str:
        """One of OPTIONS for LABEL."""
        return options[self.number(label, 0, len(options) - 1)]


def cloud_key(stream: Stream) -> tuple[str, str]:
    """An AWS access key id (AKIA + 16) and its secret (40 characters)."""
    key_id = "AKIA" + stream.chars("aws-id", _AWS_ID_ALPHABET, 16)
    return key_id, stream.chars("aws-secret", _AWS_SECRET_ALPHABET, 40)


def stripe_key(stream: Stream) -> str:
    """A Stripe live secret key."""
    return "sk_live_" + stream.chars("stripe", _ALNUM, 24)


def password(stream: Stream) -> str:
    """A 16-character password with upper, lower, digit and symbol."""
    chars = [stream.chars(f"pw-class-{i}", c, 1) for i, c in enumerate(_PASSWORD_CLASSES)]
    chars += list(stream.chars("pw-rest", "".join(_PASSWORD_CLASSES), 12))
    order = stream.bytes("pw-order", len(chars))
    return "".join(c for _, c in sorted(zip(order, chars, strict=True)))


def jwt(stream: Stream, *, issuer: str, audience: str, now: float) -> str:
    """An HS256 token with plausible claims, issued some days before NOW, valid for a year."""
    issued = int(now) - stream.number("jwt-age", 3, 200) * _DAY - stream.number("jwt-s", 0, _DAY)
    claims = {
        "iss": issuer,
        "sub": stream.choice("jwt-sub", _SUBJECTS),
        "aud": audience,
        "iat": issued,
        "exp": issued + 365 * _DAY,
        "jti": stream.bytes("jwt-jti", 16).hex(),
    }
    header = b64url(orjson.dumps({"alg": "HS256", "typ": "JWT"}))
    signing_input = header + "." + b64url(orjson.dumps(claims))
    key = stream.bytes("jwt-key", 32)
    signature = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + b64url(signature)


def seeded_tokens(
    seed: bytes, kinds: tuple[str, ...], *, issuer: str, audience: str, now: float
) -> dict[str, str]:
    """The values of KINDS from SEED ("cloud_key" brings "cloud_secret" with it)."""
    stream = Stream(seed)
    values: dict[str, str] = {}
    for kind in kinds:
        if kind == "cloud_key":
            values["cloud_key"], values["cloud_secret"] = cloud_key(stream)
        elif kind == "api_key":
            values["api_key"] = stripe_key(stream)
        elif kind == "jwt":
            values["jwt"] = jwt(stream, issuer=issuer, audience=audience, now=now)
        elif kind == "password":
            values["password"] = password(stream)
    return values


def fresh_seed() -> bytes:
    """A random seed (values nobody can derive again)."""
    return secrets.token_bytes(32)
