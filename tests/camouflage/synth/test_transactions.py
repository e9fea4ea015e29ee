"""Transaction records: 80/20 amounts, merchants only where a shop is paid, consistent places."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from shieldx.camouflage.synth.base import Record, parse_iso
from shieldx.camouflage.synth.transactions import (
    AMOUNT_CENTS,
    CHANNEL,
    CITY,
    MERCHANT_TYPES,
    PARETO_ALPHA,
    TransactionGenerator,
    top_share,
)


@pytest.fixture(scope="module")
def transactions() -> list[Record]:
    return list(TransactionGenerator.bundled().iter_records(seed=77, count=10_000))


def test_the_shape_gives_eighty_twenty() -> None:
    assert abs(PARETO_ALPHA - 1.16096) < 1e-5
    # For a Pareto the top share p of the population holds p ** (1 - 1/alpha) of the total.
    assert math.isclose(0.2 ** (1 - 1 / PARETO_ALPHA), 0.8)


def test_the_cap_costs_some_of_the_eighty_percent() -> None:
    # Exact top-20% share of the capped target: E[min(X, cap)] against the mass above
    # the 80th percentile (4 x_m). The cap at $50,000 takes 80/20 to about 74/26.
    x_m, cap, a = 1_000, 5_000_000, PARETO_ALPHA
    mean = x_m + x_m / (a - 1) * (1 - (x_m / cap) ** (a - 1))
    bottom = a / (a - 1) * x_m * (1 - 0.25 ** (a - 1))
    expected = 1 - bottom / mean
    assert expected == pytest.approx(0.744, abs=0.001)
    drawn = AMOUNT_CENTS.sample(np.random.default_rng(5), 200_000)
    assert top_share(drawn) == pytest.approx(expected, abs=0.02)


def test_amounts_are_whole_cents_between_the_minimum_and_the_cap(
    transactions: list[Record],
) -> None:
    amounts = [t["amount_cents"] for t in transactions]
    assert all(isinstance(a, int) and 1_000 <= a <= 5_000_000 for a in amounts)
    median = sorted(amounts)[len(amounts) // 2]  # type: ignore[type-var]
    assert median == pytest.approx(1_000 * 2 ** (1 / PARETO_ALPHA), rel=0.05)


def test_merchants_only_for_purchases_and_refunds(transactions: list[Record]) -> None:
    for t in transactions:
        assert (t["merchant"] is not None) == (t["type"] in MERCHANT_TYPES)
    names = [str(t["merchant"]) for t in transactions if t["merchant"] is not None]
    assert len(set(names)) > 0.95 * len(names)


def test_channels_fit_types_and_cities_fit_countries(transactions: list[Record]) -> None:
    for t in transactions:
        assert t["channel"] in CHANNEL.children[t["type"]].weights
        assert t["city"] in CITY.children[t["country"]].weights


def test_fraud_scores_are_low_mostly_and_bounded(transactions: list[Record]) -> None:
    scores = np.array([t["fraud_score"] for t in transactions], dtype=float)
    assert ((scores >= 0) & (scores <= 1)).all()
    assert scores.mean() == pytest.approx(0.05, rel=0.05)


def test_ids_and_times(transactions: list[Record]) -> None:
    assert all(re.fullmatch(r"txn_[0-9a-f]{16}", str(t["transaction_id"])) for t in transactions)
    assert len({t["transaction_id"] for t in transactions}) == len(transactions)
    times = parse_iso([t["timestamp"] for t in transactions])
    gaps = np.diff(times) / 1e6
    assert (gaps >= 0).all()
    assert gaps.mean() == pytest.approx(0.04, rel=0.05)
    assert all(1 <= int(str(t["user_id"])) <= 1_000_000 for t in transactions)
