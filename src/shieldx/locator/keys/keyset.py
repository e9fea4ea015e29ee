"""The signing and verification keys one process holds, built from the stored records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import orjson

from shieldx.locator.state.store import SigningKeyRecord
from shieldx.locator.tokens.jws import (
    SignatureVerifier,
    TokenSigner,
    VerificationKey,
    load_public_key,
    public_jwk,
)


@dataclass(frozen=True)
class KeySet:
    """One consistent view of the keys: who signs, who verifies, what is published."""

    version: int
    records: tuple[SigningKeyRecord, ...] = ()
    signer: TokenSigner | None = None
    verifier: SignatureVerifier = field(default_factory=lambda: SignatureVerifier({}))

    @classmethod
    def build(
        cls, version: int, records: Sequence[SigningKeyRecord], signer: TokenSigner | None
    ) -> KeySet:
        """Verification keys for every record not retired; each verifies until its retire_at."""
        keys = {
            r.kid: VerificationKey(
                kid=r.kid,
                public_key=load_public_key(r.public_x),
                valid_until=r.retire_at.timestamp() if r.retire_at else float("inf"),
            )
            for r in records
            if r.retired_at is None
        }
        return cls(
            version=version, records=tuple(records), signer=signer, verifier=SignatureVerifier(keys)
        )

    def published(self, now: datetime) -> list[SigningKeyRecord]:
        """Records whose keys still verify at NOW, newest first (the JWKS order)."""
        return [r for r in reversed(self.records) if r.status(now) != "retired"]

    def jwks_body(self, now: datetime) -> bytes:
        """The JSON Web Key Set document."""
        keys = [public_jwk(r.kid, r.public_x) for r in self.published(now)]
        return orjson.dumps({"keys": keys})
