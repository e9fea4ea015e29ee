"""Synthetic payment transactions: Pareto amounts, Markov merchants, weighted types and places."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike

from shieldx.camouflage.synth.base import (
    Chunk,
    Kind,
    RecordGenerator,
    Streams,
    iso_micros,
    poisson_arrivals,
    run_start,
)
from shieldx.camouflage.synth.checks import (
    CategoryCheck,
    ColumnCheck,
    GridCheck,
    LengthCheck,
    TextCheck,
    arrival_gap_check,
)
from shieldx.camouflage.synth.corpora import Corpus
from shieldx.camouflage.synth.distributions import (
    Categorical,
    Conditional,
    Exponential,
    Grid,
    Pareto,
)

WINDOW_START = 1_704_067_200  # 2024-01-01T00:00:00Z: a run starts somewhere in 2024
WINDOW_SECONDS = 366 * 86_400
MEAN_GAP_SECONDS = 0.04  # 25 transactions a second, as a Poisson process
USER_IDS = 1_000_000

# Shape log(5)/log(4) puts 80% of the total in the top 20% of amounts (the 80/20 rule):
# for a Pareto the top share p holds p^(1 - 1/alpha) of the total, and 0.2^(1 - 1/alpha) = 0.8.
PARETO_ALPHA = math.log(5) / math.log(4)
AMOUNT_CENTS = Pareto(PARETO_ALPHA, 1_000, Grid(1, high=5_000_000, rounding="floor"))
FRAUD_SCORE = Exponential(0.05, Grid(0.0001, low=0.0, high=1.0))

TYPE = Categorical(
    {"purchase": 70, "transfer": 10, "withdrawal": 7, "deposit": 6, "refund": 5, "fee": 2}
)
CHANNEL = Conditional(
    {
        "purchase": Categorical({"in_store": 46, "online": 40, "mobile_app": 14}),
        "refund": Categorical({"online": 60, "in_store": 40}),
        "transfer": Categorical({"online": 50, "mobile_app": 45, "branch": 5}),
        "withdrawal": Categorical({"atm": 90, "branch": 10}),
        "deposit": Categorical({"mobile_app": 40, "atm": 30, "branch": 30}),
        "fee": Categorical({"system": 100}),
    }
)
MERCHANT_TYPES = frozenset({"purchase", "refund"})
COUNTRY = Categorical(
    {
        "US": 34, "GB": 9, "DE": 8, "FR": 6, "IN": 6, "CA": 5, "BR": 5, "JP": 5, "AU": 4,
        "ES": 4, "IT": 4, "NL": 3, "MX": 3, "SG": 2,
    }
)  # fmt: skip
CITY = Conditional(
    {
        "US": Categorical(
            {"New York": 20, "Los Angeles": 12, "Chicago": 9, "Houston": 8, "Phoenix": 5,
             "Philadelphia": 5, "Dallas": 4, "Seattle": 3, "Miami": 3, "Austin": 3}
        ),
        "GB": Categorical(
            {"London": 50, "Manchester": 12, "Birmingham": 12, "Glasgow": 8, "Leeds": 8,
             "Bristol": 6}
        ),
        "DE": Categorical(
            {"Berlin": 30, "Hamburg": 18, "Munich": 15, "Cologne": 10, "Frankfurt": 8}
        ),
        "FR": Categorical({"Paris": 45, "Marseille": 15, "Lyon": 14, "Toulouse": 10, "Nice": 8}),
        "IN": Categorical(
            {"Mumbai": 25, "Delhi": 25, "Bengaluru": 22, "Hyderabad": 14, "Chennai": 14}
        ),
        "CA": Categorical(
            {"Toronto": 35, "Montreal": 25, "Vancouver": 18, "Calgary": 12, "Ottawa": 10}
        ),
        "BR": Categorical(
            {"Sao Paulo": 45, "Rio de Janeiro": 30, "Belo Horizonte": 13, "Brasilia": 12}
        ),
        "JP": Categorical({"Tokyo": 55, "Osaka": 20, "Yokohama": 15, "Nagoya": 10}),
        "AU": Categorical({"Sydney": 38, "Melbourne": 35, "Brisbane": 15, "Perth": 12}),
        "ES": Categorical({"Madrid": 45, "Barcelona": 40, "Valencia": 15}),
        "IT": Categorical({"Rome": 40, "Milan": 40, "Naples": 20}),
        "NL": Categorical({"Amsterdam": 50, "Rotterdam": 30, "Utrecht": 20}),
        "MX": Categorical({"Mexico City": 60, "Guadalajara": 22, "Monterrey": 18}),
        "SG": Categorical({"Singapore": 100}),
    }
)  # fmt: skip


@dataclass(frozen=True)
class TransactionGenerator(RecordGenerator):
    """Card and account transactions arriving as a Poisson process."""

    kind: ClassVar[Kind] = Kind.TRANSACTIONS
    columns: ClassVar[tuple[str, ...]] = (
        "transaction_id", "timestamp", "user_id", "type", "channel", "merchant",
        "amount_cents", "country", "city", "fraud_score",
    )  # fmt: skip

    merchants: Corpus

    @classmethod
    def bundled(cls) -> TransactionGenerator:
        """A generator trained on the bundled merchant corpus."""
        return cls(Corpus.bundled("merchants"))

    def chunk(self, streams: Streams, first: int, size: int, clock: float) -> tuple[Chunk, float]:
        """Columns for `size` transactions; merchants only where money meets a shop."""
        start = run_start(streams, WINDOW_START, WINDOW_SECONDS)
        times, clock = poisson_arrivals(streams.column("timestamp"), size, clock, MEAN_GAP_SECONDS)
        ids = streams.column("transaction_id").integers(0, 2**63, size, dtype=np.int64)
        types = TYPE.sample(streams.column("type"), size)
        names = self.merchants.chain.sample(streams.column("merchant"), size)
        countries = COUNTRY.sample(streams.column("country"), size)
        columns: Chunk = {
            "transaction_id": [f"txn_{value:016x}" for value in ids.tolist()],
            "timestamp": iso_micros(start * 1_000_000 + (times * 1e6).astype(np.int64)),
            "user_id": streams.column("user_id").integers(1, USER_IDS + 1, size).tolist(),
            "type": types,
            "channel": CHANNEL.sample(streams.column("channel"), types),
            "merchant": [
                name if kind in MERCHANT_TYPES else None
                for name, kind in zip(names, types, strict=True)
            ],
            "amount_cents": AMOUNT_CENTS.sample(streams.column("amount"), size)
            .astype(np.int64)
            .tolist(),
            "country": countries,
            "city": CITY.sample(streams.column("city"), countries),
            "fraud_score": FRAUD_SCORE.sample(streams.column("fraud_score"), size).tolist(),
        }
        return columns, clock

    def checks(self) -> tuple[ColumnCheck, ...]:
        """Each column against the distribution it is drawn from, or its training corpus."""
        types = TYPE.probabilities()
        countries = COUNTRY.probabilities()
        return (
            arrival_gap_check("timestamp", MEAN_GAP_SECONDS),
            CategoryCheck("type", types, "target weights"),
            CategoryCheck(
                "channel", CHANNEL.marginal(types), "target: sum of P(type) P(channel | type)"
            ),
            TextCheck("merchant", self.merchants),
            LengthCheck("merchant", self.merchants),
            GridCheck.of("amount_cents", AMOUNT_CENTS),
            CategoryCheck("country", countries, "target weights"),
            CategoryCheck(
                "city", CITY.marginal(countries), "target: sum of P(country) P(city | country)"
            ),
            GridCheck.of("fraud_score", FRAUD_SCORE),
        )


def top_share(amounts: ArrayLike, fraction: float = 0.2) -> float:
    """The share of the total held by the largest `fraction` of amounts (0.8 for 80/20)."""
    ordered = np.sort(np.asarray(amounts, dtype=np.float64))[::-1]
    top = ordered[: max(1, round(fraction * ordered.size))]
    return float(top.sum() / ordered.sum())
