"""Per-process memory of the locator: revoked token ids and already verified tokens."""

from __future__ import annotations

import hashlib
from collections import OrderedDict

from shieldx.locator.tokens.domain import VerifiedToken


class RevokedSet:
    """Revoked jtis with the expiry of their token, so they can be forgotten once it passes."""

    def __init__(self) -> None:
        self._expiry: dict[str, int] = {}

    def add(self, jti: str, expires_at: int) -> None:
        """Remember that JTI is revoked."""
        self._expiry[jti] = expires_at

    def __contains__(self, jti: object) -> bool:
        return jti in self._expiry

    def __len__(self) -> int:
        return len(self._expiry)

    def prune(self, *, expired_before: float) -> int:
        """Forget revocations of tokens that expired before EXPIRED_BEFORE; return how many."""
        gone = [jti for jti, exp in self._expiry.items() if exp < expired_before]
        for jti in gone:
            del self._expiry[jti]
        return len(gone)


def token_digest(token: str) -> bytes:
    """The cache key of a token: bearer tokens themselves are not kept in memory."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


class VerifiedTokenCache:
    """A bounded LRU of tokens whose signature and claims verified.

    An entry only spares the signature check: every hit is still checked for expiry,
    key retirement (both folded into `valid_until`) and revocation by the caller.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[bytes, VerifiedToken] = OrderedDict()

    def get(self, digest: bytes) -> VerifiedToken | None:
        """The cached verification of DIGEST, marked as recently used."""
        entry = self._entries.get(digest)
        if entry is not None:
            self._entries.move_to_end(digest)
        return entry

    def put(self, digest: bytes, token: VerifiedToken) -> None:
        """Remember a verified token, evicting the least recently used beyond capacity."""
        if self.capacity == 0:
            return
        self._entries[digest] = token
        if len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def discard(self, digest: bytes) -> None:
        """Forget one entry (it is no longer active)."""
        self._entries.pop(digest, None)

    def clear(self) -> None:
        """Forget everything (the key set changed)."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
