"""Honeytoken values look exactly like the real credentials."""

from __future__ import annotations

import base64
import re

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from shieldx.camouflage.honeytokens import tokens
from shieldx.platform.auth import KEY_PATTERN


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_api_keys_are_in_the_platform_format() -> None:
    keys = {tokens.api_key() for _ in range(50)}
    assert len(keys) == 50
    assert all(KEY_PATTERN.match(k) for k in keys)


def test_jwts_look_like_locator_tokens_but_use_a_throwaway_key() -> None:
    signer = tokens.DecoyTokenSigner(issuer="http://127.0.0.1:8080")
    token = signer.token(now=1_700_000_000)
    header_b64, claims_b64, signature_b64 = token.split(".")
    header = orjson.loads(_b64(header_b64))
    assert header == {"alg": "EdDSA", "typ": "at+jwt", "kid": signer.kid}
    claims = orjson.loads(_b64(claims_b64))
    assert claims["iss"] == "http://127.0.0.1:8080"
    assert claims["exp"] == 1_700_000_000 + 86_400
    assert {"sub", "aud", "jti", "client_id", "scope", "tenant"} <= set(claims)
    assert len(_b64(signature_b64)) == 64
    # Two signers never share a key (nor a kid), so no JWKS can publish it.
    assert tokens.DecoyTokenSigner(issuer="x").kid != signer.kid
    public: Ed25519PublicKey = signer._key.public_key()
    public.verify(_b64(signature_b64), f"{header_b64}.{claims_b64}".encode())


def test_cloud_keys_and_passwords() -> None:
    key_id, secret = tokens.cloud_key()
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", key_id)
    assert re.fullmatch(r"[A-Za-z0-9/+]{40}", secret)
    passwords = {tokens.password() for _ in range(50)}
    assert len(passwords) == 50
    for pw in passwords:
        assert len(pw) == 16
        assert re.search(r"[A-Z]", pw) and re.search(r"[a-z]", pw) and re.search(r"\d", pw)
        assert re.search(r"[!@#%^*\-_+=]", pw)
