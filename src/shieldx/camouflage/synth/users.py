"""Synthetic user accounts: Markov usernames and names, demographics and behaviour."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from shieldx.camouflage.synth.base import (
    Chunk,
    Kind,
    RecordGenerator,
    Streams,
    iso_seconds,
    parse_iso,
)
from shieldx.camouflage.synth.checks import (
    CategoryCheck,
    ColumnCheck,
    Extract,
    GridCheck,
    LengthCheck,
    Table,
    TextCheck,
)
from shieldx.camouflage.synth.corpora import Corpus
from shieldx.camouflage.synth.distributions import (
    Categorical,
    Conditional,
    Exponential,
    Grid,
    LogNormal,
    Normal,
    Uniform,
)

WINDOW_START = 1_514_764_800  # 2018-01-01T00:00:00Z: accounts are created from here
OBSERVED_AT = 1_735_689_600  # 2025-01-01T00:00:00Z: "now" for every dataset, for determinism

AGE = Normal(35, 15, Grid(1, low=18, high=90))
LOGINS_PER_WEEK = Exponential(4.0, Grid(0.01))
# Log-normal, not the seed's Normal: durations are positive and right-skewed (many short
# visits, a few long ones), and a Normal with a useful spread would emit negative minutes.
SESSION_MINUTES = LogNormal(12.0, 0.9, Grid(0.1, low=0.1, high=1440))
CREATED_AT = Uniform(WINDOW_START, OBSERVED_AT, Grid(1, rounding="floor"))

EMAIL_DOMAINS = Categorical(
    {
        "gmail.com": 32, "yahoo.com": 9, "outlook.com": 9, "hotmail.com": 7, "icloud.com": 7,
        "proton.me": 3, "aol.com": 2, "gmx.de": 3, "web.de": 2, "yahoo.co.uk": 2,
        "orange.fr": 2, "libero.it": 2, "mail.com": 1, "fastmail.com": 1,
    }
)  # fmt: skip
ROLE = Categorical({"user": 92, "support": 4, "admin": 3, "owner": 1})
STATUS = Categorical({"active": 85, "pending": 7, "disabled": 5, "suspended": 3})
MFA = Categorical({False: 72, True: 28})
DEVICE = Categorical({"mobile": 55, "desktop": 38, "tablet": 7})
OS = Conditional(
    {
        "mobile": Categorical({"Android": 71, "iOS": 29}),
        "desktop": Categorical({"Windows": 72, "macOS": 16, "Linux": 4, "ChromeOS": 8}),
        "tablet": Categorical({"iPadOS": 55, "Android": 45}),
    }
)
BROWSER = Conditional(
    {
        "Android": Categorical({"Chrome": 80, "Samsung Internet": 12, "Firefox": 3, "Opera": 5}),
        "iOS": Categorical({"Safari": 88, "Chrome": 12}),
        "iPadOS": Categorical({"Safari": 85, "Chrome": 15}),
        "Windows": Categorical({"Chrome": 70, "Edge": 17, "Firefox": 8, "Opera": 5}),
        "macOS": Categorical({"Safari": 50, "Chrome": 43, "Firefox": 7}),
        "Linux": Categorical({"Firefox": 50, "Chrome": 50}),
        "ChromeOS": Categorical({"Chrome": 100}),
    }
)


@dataclass(frozen=True)
class UserGenerator(RecordGenerator):
    """User accounts with Markov-chain usernames and names."""

    kind: ClassVar[Kind] = Kind.USERS
    columns: ClassVar[tuple[str, ...]] = (
        "user_id", "username", "full_name", "email", "age", "role", "status", "mfa_enabled",
        "device", "os", "browser", "logins_per_week", "avg_session_minutes", "created_at",
        "last_login_at",
    )  # fmt: skip

    usernames: Corpus
    first_names: Corpus
    surnames: Corpus

    @classmethod
    def bundled(cls) -> UserGenerator:
        """A generator trained on the bundled corpora."""
        return cls(
            Corpus.bundled("usernames"), Corpus.bundled("first_names"), Corpus.bundled("surnames")
        )

    def chunk(self, streams: Streams, first: int, size: int, clock: float) -> tuple[Chunk, float]:
        """Columns for `size` users numbered from first + 1."""
        # A word cut at the length limit (rare) could end in a separator; emails cannot.
        names = self.usernames.chain.sample(streams.column("username"), size)
        usernames = [name.rstrip("._-") for name in names]
        firsts = self.first_names.chain.sample(streams.column("first_name"), size)
        lasts = self.surnames.chain.sample(streams.column("surname"), size)
        domains = EMAIL_DOMAINS.sample(streams.column("email"), size)
        devices = DEVICE.sample(streams.column("device"), size)
        systems = OS.sample(streams.column("os"), devices)
        logins = LOGINS_PER_WEEK.sample(streams.column("logins_per_week"), size)
        created = CREATED_AT.sample(streams.column("created_at"), size).astype(np.int64)
        # Someone logging in n times a week was last seen about 7/n days before "now".
        idle_days = (
            streams.column("last_login_at").exponential(1.0, size) * 7 / np.maximum(logins, 0.05)
        )
        last_login = np.maximum(OBSERVED_AT - (idle_days * 86_400).astype(np.int64), created)
        columns: Chunk = {
            "user_id": list(range(first + 1, first + size + 1)),
            "username": usernames,
            "full_name": [f"{f.title()} {s.title()}" for f, s in zip(firsts, lasts, strict=True)],
            "email": [f"{u}@{d}" for u, d in zip(usernames, domains, strict=True)],
            "age": AGE.sample(streams.column("age"), size).astype(np.int64).tolist(),
            "role": ROLE.sample(streams.column("role"), size),
            "status": STATUS.sample(streams.column("status"), size),
            "mfa_enabled": MFA.sample(streams.column("mfa_enabled"), size),
            "device": devices,
            "os": systems,
            "browser": BROWSER.sample(streams.column("browser"), systems),
            "logins_per_week": logins.tolist(),
            "avg_session_minutes": SESSION_MINUTES.sample(streams.column("session"), size).tolist(),
            "created_at": iso_seconds(created),
            "last_login_at": iso_seconds(last_login),
        }
        return columns, clock

    def checks(self) -> tuple[ColumnCheck, ...]:
        """Each column against the distribution it is drawn from, or its training corpus."""
        devices = DEVICE.probabilities()
        systems = OS.marginal(devices)
        return (
            TextCheck("username", self.usernames),
            LengthCheck("username", self.usernames),
            TextCheck("first_name", self.first_names, _name_part(0)),
            TextCheck("surname", self.surnames, _name_part(1)),
            CategoryCheck("email.domain", EMAIL_DOMAINS.probabilities(), "target weights", _domain),
            GridCheck.of("age", AGE),
            CategoryCheck("role", ROLE.probabilities(), "target weights"),
            CategoryCheck("status", STATUS.probabilities(), "target weights"),
            CategoryCheck("mfa_enabled", MFA.probabilities(), "target weights"),
            CategoryCheck("device", devices, "target weights"),
            CategoryCheck("os", systems, "target: sum of P(device) P(os | device)"),
            CategoryCheck(
                "browser", BROWSER.marginal(systems), "target: sum of P(os) P(browser | os)"
            ),
            GridCheck.of("logins_per_week", LOGINS_PER_WEEK),
            GridCheck.of("avg_session_minutes", SESSION_MINUTES),
            GridCheck.of("created_at", CREATED_AT, _epoch_seconds),
        )


def _name_part(index: int) -> Extract:
    """Extract the lower-cased first or last word of full_name."""

    def extract(table: Table) -> list[str]:
        return [str(name).split(" ")[index].lower() for name in table["full_name"]]

    return extract


def _domain(table: Table) -> list[str]:
    """The domain part of each email."""
    return [str(email).rpartition("@")[2] for email in table["email"]]


def _epoch_seconds(table: Table) -> list[float]:
    """created_at as epoch seconds."""
    return list((parse_iso(table["created_at"]) / 1_000_000).tolist())
