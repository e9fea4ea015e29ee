"""The one webhook signature scheme (`ShieldX-Signature: t=…,v1=…`) credits and camouflage use."""

from __future__ import annotations

import hashlib
import hmac

from shieldx.platform.webhooks import SIGNATURE_HEADER, sign, verify

SECRET = b"whsec_0123456789abcdef"
BODY = b'{"id":"al_1"}'


def test_the_header_is_stripe_style_with_the_timestamp_signed() -> None:
    header = sign(SECRET, 1_000, BODY)
    expected = hmac.new(SECRET, b"1000." + BODY, hashlib.sha256).hexdigest()
    assert SIGNATURE_HEADER == "ShieldX-Signature"
    assert header == f"t=1000,v1={expected}"


def test_a_signature_verifies_within_the_tolerance_only() -> None:
    header = sign(SECRET, 1_000, BODY)
    assert verify(SECRET, header, BODY, now=1_010)
    assert verify(SECRET, header, BODY, now=700)  # a receiver's clock may run behind
    assert not verify(SECRET, header, BODY, now=1_301)  # too old: a replay
    assert verify(SECRET, header, BODY, now=1_301, tolerance=600)


def test_tampering_and_garbage_are_refused() -> None:
    header = sign(SECRET, 1_000, BODY)
    assert not verify(SECRET, header, BODY + b" ", now=1_000)  # body changed
    assert not verify(b"whsec_other", header, BODY, now=1_000)  # other secret
    # A replay with a fresh timestamp: the old v1 does not sign the new t.
    replayed = header.replace("t=1000", "t=2000")
    assert not verify(SECRET, replayed, BODY, now=2_000)
    for bad in ("", "garbage", "t=abc,v1=00", "v1=" + "0" * 64, f"t=1000,t=1000,{header}"):
        assert not verify(SECRET, bad, BODY, now=1_000), bad


def test_any_of_several_v1_entries_may_match() -> None:
    """A sender rotating secrets may sign with both; the receiver accepts either."""
    old = sign(b"whsec_old", 1_000, BODY)
    new = sign(SECRET, 1_000, BODY)
    header = f"{new},v1={old.split('v1=')[1]}"
    assert verify(SECRET, header, BODY, now=1_000)
    assert verify(b"whsec_old", header, BODY, now=1_000)
    assert not verify(b"whsec_third", header, BODY, now=1_000)
