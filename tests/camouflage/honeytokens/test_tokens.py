"""Honeytoken values look like the credentials real stacks leak, and never name this product."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

import orjson

from shieldx.camouflage.honeytokens import tokens

NOW = 1_780_000_000


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _values(seed: bytes) -> dict[str, str]:
    kinds = ("api_key", "jwt", "password", "cloud_key")
    return tokens.seeded_tokens(
        seed, kinds, issuer="https://auth.shop.example", audience="https://shop.example", now=NOW
    )


def test_values_have_the_shapes_of_third_party_credentials() -> None:
    values = _values(b"s" * 32)
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", values["cloud_key"])
    assert re.fullmatch(r"[A-Za-z0-9/+]{40}", values["cloud_secret"])
    assert re.fullmatch(r"sk_live_[A-Za-z0-9]{24}", values["api_key"])
    pw = values["password"]
    assert len(pw) == 16
    assert re.search(r"[A-Z]", pw) and re.search(r"[a-z]", pw) and re.search(r"\d", pw)
    assert re.search(r"[!@#%^*\-_+=]", pw)
    assert not any("shieldx" in v.lower() or v.startswith("shx_") for v in values.values())


def test_jwts_are_plain_hs256_tokens_with_ordinary_claims() -> None:
    token = _values(b"j" * 32)["jwt"]
    header_b64, claims_b64, signature_b64 = token.split(".")
    assert orjson.loads(_b64(header_b64)) == {"alg": "HS256", "typ": "JWT"}
    claims = orjson.loads(_b64(claims_b64))
    assert set(claims) == {"iss", "sub", "aud", "iat", "exp", "jti"}
    assert claims["iss"] == "https://auth.shop.example" and claims["aud"] == "https://shop.example"
    assert NOW - 201 * 86_400 <= claims["iat"] < NOW and claims["exp"] > NOW
    # Signed with a key derived from the seed: verifiable by nobody who lacks the seed.
    key = tokens.Stream(b"j" * 32).bytes("jwt-key", 32)
    expected = hmac.new(key, f"{header_b64}.{claims_b64}".encode(), hashlib.sha256).digest()
    assert _b64(signature_b64) == expected


def test_values_are_a_function_of_the_seed() -> None:
    assert _values(b"a" * 32) == _values(b"a" * 32)
    other = _values(b"b" * 32)
    assert all(other[k] != v for k, v in _values(b"a" * 32).items())
    seeds = {tokens.fresh_seed() for _ in range(20)}
    assert len({_values(s)["api_key"] for s in seeds}) == 20
