"""JWS compact serialisation, strict base64url, JWKs and thumbprints."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from shieldx.locator.tokens.jws import (
    SignatureVerifier,
    TokenRejected,
    TokenSigner,
    VerificationKey,
    b64url,
    b64url_decode,
    classify_header,
    header_segment,
    load_public_key,
    public_jwk,
    public_key_x,
    thumbprint,
)

CLAIMS = {"iss": "https://locator.test", "sub": "u", "exp": 2_000_000_000, "jti": "j1"}


def _pair(kid: str = "k1") -> tuple[TokenSigner, SignatureVerifier, Ed25519PrivateKey]:
    private = Ed25519PrivateKey.generate()
    signer = TokenSigner(kid, private)
    verifier = SignatureVerifier({kid: VerificationKey(kid, private.public_key())})
    return signer, verifier, private


def _segment(doc: object) -> str:
    return b64url(orjson.dumps(doc))


@given(st.binary(max_size=200))
def test_b64url_round_trips(data: bytes) -> None:
    text = b64url(data)
    assert "=" not in text
    assert b64url_decode(text) == data


@pytest.mark.parametrize(
    "text",
    ["ab+c", "ab/c", "abc=", "ab c", "a", "aé", "QR", "QQ=="],
)
def test_b64url_decode_is_strict(text: str) -> None:
    # 'QR' decodes to the same byte as 'QQ' in a lenient decoder: non-canonical trailing bits.
    with pytest.raises(ValueError, match="base64url"):
        b64url_decode(text)


def test_rfc8037_thumbprint_vector() -> None:
    # RFC 8037 appendix A.3: the thumbprint of the example Ed25519 public key.
    x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    assert thumbprint(x) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_public_jwk_shape_and_round_trip() -> None:
    private = Ed25519PrivateKey.generate()
    x = public_key_x(private.public_key())
    jwk = public_jwk(thumbprint(x), x)
    assert jwk == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": x,
        "kid": thumbprint(x),
        "use": "sig",
        "alg": "EdDSA",
    }
    assert load_public_key(x).public_bytes_raw() == private.public_key().public_bytes_raw()


def test_header_is_exactly_alg_typ_kid() -> None:
    header = orjson.loads(b64url_decode(header_segment("k1")))
    assert header == {"alg": "EdDSA", "typ": "at+jwt", "kid": "k1"}


def test_sign_then_verify() -> None:
    signer, verifier, _ = _pair()
    token = signer.sign(CLAIMS)
    key, claims = verifier.verify(token, now=time.time())
    assert key.kid == "k1"
    assert claims == CLAIMS


def _rejected(verifier: SignatureVerifier, token: str) -> str:
    with pytest.raises(TokenRejected) as caught:
        verifier.verify(token, now=time.time())
    return caught.value.reason


def test_alg_none_is_rejected() -> None:
    _, verifier, _ = _pair()
    header = _segment({"alg": "none", "typ": "at+jwt", "kid": "k1"})
    assert _rejected(verifier, f"{header}.{_segment(CLAIMS)}.") == "algorithm_not_allowed"


def test_hs256_with_the_public_key_as_secret_is_rejected() -> None:
    _, verifier, private = _pair()
    header = _segment({"alg": "HS256", "typ": "at+jwt", "kid": "k1"})
    signing_input = f"{header}.{_segment(CLAIMS)}"
    for secret in (
        private.public_key().public_bytes_raw(),
        public_key_x(private.public_key()).encode(),
    ):
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        assert _rejected(verifier, f"{signing_input}.{b64url(mac)}") == "algorithm_not_allowed"


def test_unknown_kid_is_rejected() -> None:
    other, _, _ = _pair("stranger")
    _, verifier, _ = _pair("k1")
    assert _rejected(verifier, other.sign(CLAIMS)) == "unknown_key"


def test_same_kid_other_key_is_a_bad_signature() -> None:
    impostor, _, _ = _pair("k1")
    _, verifier, _ = _pair("k1")
    assert _rejected(verifier, impostor.sign(CLAIMS)) == "bad_signature"


def test_modified_payload_is_rejected() -> None:
    signer, verifier, _ = _pair()
    header, _, signature = signer.sign(CLAIMS).split(".")
    forged = _segment({**CLAIMS, "sub": "admin"})
    assert _rejected(verifier, f"{header}.{forged}.{signature}") == "bad_signature"


def test_header_with_extra_members_is_rejected() -> None:
    _, verifier, private = _pair()
    header = _segment({"alg": "EdDSA", "typ": "at+jwt", "kid": "k1", "jku": "https://evil"})
    signing_input = f"{header}.{_segment(CLAIMS)}"
    token = f"{signing_input}.{b64url(private.sign(signing_input.encode()))}"
    assert _rejected(verifier, token) == "bad_header"


def test_non_canonical_signature_encoding_is_rejected() -> None:
    signer, verifier, _ = _pair()
    token = signer.sign(CLAIMS)
    head, signature = token.rsplit(".", 1)
    # 64 bytes encode to 86 characters whose last one carries 4 unused (zero) bits.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = alphabet[alphabet.index(signature[-1]) + 1]
    assert base64.urlsafe_b64decode(signature[:-1] + twin + "==") == base64.urlsafe_b64decode(
        signature + "=="
    )
    assert _rejected(verifier, f"{head}.{signature[:-1]}{twin}") == "malformed"


def test_retired_key_stops_verifying_at_its_deadline() -> None:
    private = Ed25519PrivateKey.generate()
    token = TokenSigner("k1", private).sign(CLAIMS)
    verifier = SignatureVerifier({"k1": VerificationKey("k1", private.public_key(), 1000.0)})
    assert verifier.verify(token, now=999.0)[0].kid == "k1"
    with pytest.raises(TokenRejected, match="retired_key"):
        verifier.verify(token, now=1000.0)


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b", "a.b.c.d", "é.é.é", "x" * 9000, "..", "eyJ.eyJ.sig"],
)
def test_garbage_is_rejected_as_malformed_or_unknown(token: str) -> None:
    _, verifier, _ = _pair()
    assert _rejected(verifier, token) in {"malformed", "bad_header", "algorithm_not_allowed"}


@given(st.text(max_size=300))
def test_any_string_is_either_valid_or_rejected_cleanly(token: str) -> None:
    _, verifier, _ = _pair()
    with pytest.raises(TokenRejected):
        verifier.verify(token, now=0.0)


def test_classify_header_reasons() -> None:
    assert classify_header("!!") == "malformed"
    assert classify_header(_segment([1])) == "malformed"
    assert classify_header(_segment({"alg": "RS256", "kid": "k"})) == "algorithm_not_allowed"
    assert classify_header(_segment({"alg": "EdDSA", "typ": "JWT", "kid": "k"})) == "bad_header"
    assert classify_header(_segment({"alg": "EdDSA", "typ": "at+jwt", "kid": "k"})) == "unknown_key"
