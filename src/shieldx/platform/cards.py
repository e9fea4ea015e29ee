"""Card numbers (PANs) written in clear: found by brand prefix, length and Luhn together.

Shared by the credits service (it refuses a payment reference that holds one) and the
compliance engine (it scans every table for them, PCI DSS 3.4).
"""

from __future__ import annotations

import re
from collections.abc import Iterator


def luhn_valid(digits: str) -> bool:
    """Whether DIGITS passes the Luhn checksum (ISO/IEC 7812)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


# 13 to 19 digits, optionally grouped by single spaces or dashes, not inside a longer number.
_CANDIDATE = re.compile(r"(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])")
# Issuer prefixes and lengths (Visa, Mastercard, Amex, Discover, JCB, Diners): a 16-digit
# microsecond timestamp or id passes Luhn one time in ten, so the prefix must match too.
_BRANDS = (
    (re.compile(r"4"), (13, 16, 19)),
    (re.compile(r"5[1-5]|2(?:2[2-9]|[3-6][0-9]|7[01]|720)"), (16,)),
    (re.compile(r"3[47]"), (15,)),
    (re.compile(r"6(?:011|5)"), (16, 19)),
    (re.compile(r"35(?:2[89]|[3-8][0-9])"), (16, 19)),
    (re.compile(r"3(?:0[0-5]|[689])"), (14,)),
)


def card_numbers(text: str) -> Iterator[str]:
    """Each card number (brand prefix, length and Luhn all valid) written in clear in TEXT."""
    for match in _CANDIDATE.finditer(text):
        digits = re.sub(r"[ -]", "", match.group())
        if luhn_valid(digits) and any(
            pattern.match(digits) and len(digits) in lengths for pattern, lengths in _BRANDS
        ):
            yield digits


def masked(pan: str) -> str:
    """A card number as evidence may show it: the first six and last four digits."""
    return f"{pan[:6]}{'*' * (len(pan) - 10)}{pan[-4:]}"
