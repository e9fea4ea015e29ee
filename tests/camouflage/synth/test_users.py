"""User records: valid and mutually consistent fields drawn from the stated targets."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest

from shieldx.camouflage.synth.base import Record, parse_iso
from shieldx.camouflage.synth.users import (
    AGE,
    BROWSER,
    OBSERVED_AT,
    OS,
    WINDOW_START,
    UserGenerator,
)

EMAIL = re.compile(r"[a-z0-9](?:[a-z0-9_-]|\.(?!\.))*[a-z0-9]@[a-z0-9.-]+\.[a-z]{2,}")


@pytest.fixture(scope="module")
def users() -> list[Record]:
    return list(UserGenerator.bundled().iter_records(seed=2024, count=10_000))


def test_records_have_the_declared_columns_in_order(users: list[Record]) -> None:
    assert all(tuple(user) == UserGenerator.columns for user in users)
    assert [user["user_id"] for user in users] == list(range(1, 10_001))


def test_emails_are_valid_and_built_from_the_username(users: list[Record]) -> None:
    for user in users:
        email = str(user["email"])
        assert EMAIL.fullmatch(email), email
        assert email.split("@")[0] == user["username"]


def test_usernames_are_mostly_distinct_and_new(users: list[Record]) -> None:
    names = Counter(str(user["username"]) for user in users)
    assert len(names) > 0.98 * len(users)
    assert min(len(name) for name in names) >= 2


def test_names_are_two_capitalised_words(users: list[Record]) -> None:
    for user in users:
        first, last = str(user["full_name"]).split(" ")
        assert first[0].isupper() and last[0].isupper()


def test_ages_are_whole_years_in_range_with_the_clip_mass_at_18(users: list[Record]) -> None:
    ages = [user["age"] for user in users]
    assert all(isinstance(age, int) and 18 <= age <= 90 for age in ages)
    # P(Normal(35, 15) < 18.5) = 13.5%: clipping piles it on 18.
    assert ages.count(18) / len(ages) == pytest.approx(0.135, abs=0.015)
    support = np.arange(18, 91)
    expected_mean = float(np.sum(support * np.diff(AGE.cdf(np.arange(17, 91)))))
    assert np.mean(np.array(ages, dtype=float)) == pytest.approx(expected_mean, abs=0.4)


def test_os_matches_device_and_browser_matches_os(users: list[Record]) -> None:
    for user in users:
        assert user["os"] in OS.children[user["device"]].weights
        assert user["browser"] in BROWSER.children[user["os"]].weights


def test_behaviour_is_positive(users: list[Record]) -> None:
    assert all(float(user["logins_per_week"]) >= 0 for user in users)  # type: ignore[arg-type]
    assert all(0.1 <= float(user["avg_session_minutes"]) <= 1440 for user in users)  # type: ignore[arg-type]


def test_login_times_are_ordered_and_in_the_window(users: list[Record]) -> None:
    created = parse_iso([user["created_at"] for user in users]) // 1_000_000
    last = parse_iso([user["last_login_at"] for user in users]) // 1_000_000
    assert (created >= WINDOW_START).all() and (created < OBSERVED_AT).all()
    assert (last >= created).all() and (last <= OBSERVED_AT).all()


def test_frequent_users_were_seen_more_recently(users: list[Record]) -> None:
    last = parse_iso([user["last_login_at"] for user in users]) // 1_000_000
    idle = {True: [], False: []}  # type: dict[bool, list[int]]
    for user, seen in zip(users, last.tolist(), strict=True):
        idle[float(user["logins_per_week"]) > 4].append(OBSERVED_AT - seen)  # type: ignore[arg-type]
    assert sorted(idle[True])[len(idle[True]) // 2] < sorted(idle[False])[len(idle[False]) // 2]
