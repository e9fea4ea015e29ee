"""The decoy secret and what derives from it: maze page seeds and opaque link markers.

* ``page_seed(decoy, path)`` = HMAC-SHA256(secret, decoy NUL path), first 8 bytes: a revisit
  of a page regenerates it bit for bit, and nobody without the secret can predict the site.
* A link marker is the session id XOR a secret pad, followed by a 4-byte HMAC tag: 24 hex
  digits that look like any content hash, decode to the session without a lookup table, and
  cannot be forged or altered without the secret.

The secret comes from ``camouflage.maze.secret`` or, when that is unset, is generated once and
stored encrypted with the platform keyring in ``camouflage_state``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from shieldx.camouflage.store import CamouflageStore
from shieldx.platform.crypto import Keyring

SECRET_STATE_KEY = "decoy_secret"  # noqa: S105 (a state key name)
SECRET_CONTEXT = "camouflage.decoy_secret"  # noqa: S105 (an AEAD context label)
MARKER_CHARS = 24
_HEX = frozenset("0123456789abcdef")


def load_decoy_secret(*, configured: str | None, store: CamouflageStore, keyring: Keyring) -> bytes:
    """The configured secret, else the stored one, else a new one (stored encrypted)."""
    if configured:
        return configured.encode("utf-8")
    sealed = store.get_state(SECRET_STATE_KEY)
    if sealed is None:
        fresh = keyring.encrypt(secrets.token_bytes(32), SECRET_CONTEXT)
        sealed = store.put_state_if_absent(SECRET_STATE_KEY, fresh)
    return keyring.decrypt(sealed, SECRET_CONTEXT)


class MazeKeys:
    """Seeds and markers derived from the decoy secret."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._pad = hmac.new(secret, b"marker-pad", hashlib.sha256).digest()[:8]

    def page_seed(self, decoy: str, path: str) -> int:
        """The 63-bit seed of the page at PATH on DECOY."""
        message = decoy.encode() + b"\0" + path.encode("utf-8", "surrogateescape")
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big") >> 1

    def seed(self, *parts: str) -> bytes:
        """A 32-byte seed for PARTS (decoy, path, …): what a file's token values derive from."""
        message = b"seed\0" + b"\0".join(p.encode("utf-8", "surrogateescape") for p in parts)
        return hmac.new(self._secret, message, hashlib.sha256).digest()

    def _tag(self, raw_id: bytes) -> bytes:
        return hmac.new(self._secret, b"marker" + raw_id, hashlib.sha256).digest()[:4]

    def marker(self, session_id: str) -> str:
        """The link marker of a session (session ids are 16 hex digits)."""
        raw = bytes.fromhex(session_id)
        masked = bytes(a ^ b for a, b in zip(raw, self._pad, strict=True))
        return (masked + self._tag(raw)).hex()

    def session_of(self, marker: str) -> str | None:
        """The session a marker names, or None if it is not a genuine marker."""
        if len(marker) != MARKER_CHARS or not set(marker) <= _HEX:
            return None
        data = bytes.fromhex(marker)
        raw = bytes(a ^ b for a, b in zip(data[:8], self._pad, strict=True))
        if not hmac.compare_digest(self._tag(raw), data[8:]):
            return None
        return raw.hex()
