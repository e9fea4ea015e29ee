"""Shared machinery: kinds, argument checks, per-column streams, clocks and timestamps."""

from __future__ import annotations

import numpy as np
import pytest

from shieldx.camouflage.synth.base import (
    Kind,
    Streams,
    check_seed_and_count,
    iso_micros,
    iso_seconds,
    parse_iso,
    poisson_arrivals,
)


def test_kind_parse_names_the_choices() -> None:
    assert Kind.parse("traffic") is Kind.TRAFFIC
    with pytest.raises(ValueError, match=r"users, transactions, traffic \(got 'flows'\)"):
        Kind.parse("flows")


@pytest.mark.parametrize(
    ("seed", "count", "message"),
    [
        (-1, 1, "seed must be a non-negative integer"),
        (True, 1, "seed must be"),
        (1.5, 1, "seed must be"),
        (1, -1, "count must be a non-negative integer"),
        (1, 2.0, "count must be"),
    ],
)
def test_bad_seeds_and_counts_are_refused(seed: object, count: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_seed_and_count(seed, count)  # type: ignore[arg-type]


def test_streams_are_reproducible_and_independent() -> None:
    one = Streams(7, Kind.USERS, 0)
    assert one.column("age").random() == Streams(7, Kind.USERS, 0).column("age").random()
    draws = {
        one.column("age").random(),
        one.column("email").random(),
        Streams(7, Kind.USERS, 1).column("age").random(),
        Streams(7, Kind.TRAFFIC, 0).column("age").random(),
        Streams(8, Kind.USERS, 0).column("age").random(),
        one.run("age").random(),
    }
    assert len(draws) == 6
    assert one.run("start").random() == Streams(7, Kind.USERS, 5).run("start").random()


def test_huge_seeds_are_fine() -> None:
    assert 0 <= Streams(2**256 - 1, Kind.USERS, 0).column("x").random() < 1


def test_poisson_arrivals_carry_the_clock() -> None:
    rng = np.random.default_rng(1)
    times, clock = poisson_arrivals(rng, 1_000, 10.0, 0.5)
    assert times[0] > 10.0 and np.all(np.diff(times) > 0) and clock == times[-1]
    assert np.mean(np.diff(times)) == pytest.approx(0.5, rel=0.1)
    empty, same = poisson_arrivals(rng, 0, clock, 0.5)
    assert empty.size == 0 and same == clock


def test_timestamps_are_iso_utc_and_parse_back() -> None:
    seconds = np.array([0, 1_735_689_599], dtype=np.int64)
    assert iso_seconds(seconds) == ["1970-01-01T00:00:00Z", "2024-12-31T23:59:59Z"]
    micros = np.array([1_700_000_000_123_456], dtype=np.int64)
    assert iso_micros(micros) == ["2023-11-14T22:13:20.123456Z"]
    assert parse_iso(iso_micros(micros)).tolist() == micros.tolist()
    assert parse_iso(iso_seconds(seconds)).tolist() == (seconds * 1_000_000).tolist()
