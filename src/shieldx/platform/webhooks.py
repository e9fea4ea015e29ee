"""Signing outgoing webhooks, and the check a receiver makes: one scheme for every service.

As Stripe does it, the timestamp is inside the signed text, so a captured delivery cannot be
replayed later with a fresh timestamp:

    ShieldX-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>

A receiver recomputes v1 over the raw body, compares in constant time and refuses a t further
than its tolerance from its own clock (`verify`).
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "ShieldX-Signature"
TOLERANCE_S = 300


def _mac(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The ShieldX-Signature header value for BODY sent at TIMESTAMP (unix seconds)."""
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify(
    secret: bytes, header: str, body: bytes, *, now: int, tolerance: int = TOLERANCE_S
) -> bool:
    """Whether HEADER signs BODY with SECRET at a time within TOLERANCE seconds of NOW."""
    timestamps: list[str] = []
    signatures: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            timestamps.append(value)
        elif key == "v1":
            signatures.append(value)
    if len(timestamps) != 1 or not timestamps[0].isdigit():
        return False
    timestamp = int(timestamps[0])
    if abs(now - timestamp) > tolerance:
        return False
    expected = _mac(secret, timestamp, body)
    # Several v1 entries are allowed (a sender may sign with an old and a new secret).
    return any(hmac.compare_digest(expected, signature) for signature in signatures)
