"""Card numbers in clear: brand prefix, length and Luhn must all hold."""

from __future__ import annotations

import pytest

from shieldx.platform.cards import card_numbers, luhn_valid, masked


@pytest.mark.parametrize(
    "pan",
    [
        "4111111111111111",
        "5500005555555559",
        "378282246310005",
        "6011111111111117",
        "2223003122003222",
        "3530111333300000",
    ],
)
def test_test_cards_of_each_brand_are_found(pan: str) -> None:
    assert luhn_valid(pan)
    assert list(card_numbers(f"paid with {pan}.")) == [pan]


def test_grouped_digits_are_found_and_masked() -> None:
    assert list(card_numbers("card 4111 1111 1111 1111 ok")) == ["4111111111111111"]
    assert list(card_numbers("card 4111-1111-1111-1111")) == ["4111111111111111"]
    assert masked("4111111111111111") == "411111******1111"


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111112",  # Luhn fails
        "1764791234567890",  # a microsecond timestamp: no card brand starts with 17
        "41111111111111111111",  # inside a longer number
        "7" * 16,
        "hash a3f54111111111111111b",  # letters around are fine, but 4111… + 1 = 17 digits
    ],
)
def test_other_numbers_are_not_card_numbers(text: str) -> None:
    assert list(card_numbers(text)) == []
