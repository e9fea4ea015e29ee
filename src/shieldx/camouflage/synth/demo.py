"""A known table with correlated columns of every type: the benchmark's and the tests' sample.

Customers of a subscription service. Age drives income (log-normal around a curve that peaks
at 55), income drives the plan, plan and income drive monthly spend, spend lowers churn risk,
the plan sets the rate of support tickets, and activity follows from the last login. Every
column type appears: identifiers (customer_id, email), text (note, mostly empty), dates,
datetimes, integers, floats, categories and booleans.
"""

from __future__ import annotations

import numpy as np

COUNTRIES = {
    "US": 0.34,
    "DE": 0.14,
    "GB": 0.12,
    "FR": 0.1,
    "IN": 0.1,
    "BR": 0.08,
    "JP": 0.07,
    "CA": 0.05,
}
PLANS = ("basic", "plus", "premium")
WORDS = [
    "asked",
    "about",
    "invoice",
    "prefers",
    "email",
    "contact",
    "moved",
    "abroad",
    "upgraded",
    "after",
    "trial",
    "reported",
    "slow",
    "sync",
    "wants",
    "annual",
    "billing",
    "referred",
    "by",
    "partner",
    "disputed",
    "a",
    "charge",
]
DAY = 86_400
START = 1_546_300_800  # 2019-01-01
END = 1_733_011_200  # 2024-12-01


def customers(rows: int, seed: int = 0) -> dict[str, list[str]]:
    """`rows` customers as CSV cells (column name -> texts), the same for the same seed."""
    rng = np.random.default_rng(seed)
    age = np.clip(np.rint(rng.normal(42, 13, rows)), 18, 85).astype(int)
    curve = 10.4 + 0.5 * (1 - ((age - 55) / 37) ** 2)
    income = np.round(np.exp(rng.normal(curve, 0.35)), 2)
    score = np.log(income) + rng.normal(0, 0.25, rows)
    plan_index = np.digitize(score, [10.65, 11.05])
    spend = np.round(
        np.array([9.0, 24.0, 59.0])[plan_index] * np.exp(rng.normal(0, 0.2, rows))
        + income / 20_000,
        2,
    )
    churn = np.clip(0.6 - 0.006 * spend + rng.normal(0, 0.08, rows), 0.0, 1.0).round(3)
    tickets = rng.poisson(np.array([0.5, 1.2, 2.5])[plan_index])
    signup = rng.integers(START, END - 30 * DAY, rows) // DAY * DAY
    since = rng.exponential(40 * DAY, rows) * np.where(churn > 0.4, 4, 1)
    last_login = np.maximum(signup, END - since).astype(np.int64)
    active = (END - last_login) < 60 * DAY
    country = rng.choice(list(COUNTRIES), rows, p=list(COUNTRIES.values()))
    ids = rng.permutation(900_000)[:rows] + 100_000
    first = rng.choice(
        ["ana", "ben", "chen", "dara", "eli", "fay", "gus", "hana", "ivo", "jo"], rows
    )
    last = rng.choice(
        ["smith", "kumar", "muller", "silva", "sato", "brown", "rossi", "dubois"], rows
    )
    note = [
        " ".join(rng.choice(WORDS, rng.integers(3, 9))) if rng.random() < 0.3 else ""
        for _ in range(rows)
    ]
    return {
        "customer_id": [f"CUS-{i}" for i in ids.tolist()],
        "email": [
            f"{f}.{s}{n}@example.com"
            for f, s, n in zip(first, last, rng.integers(1, 999, rows), strict=True)
        ],
        "signup_date": np.datetime_as_string(signup.astype("datetime64[s]"), unit="D").tolist(),
        "age": [str(a) for a in age.tolist()],
        "country": country.tolist(),
        "income": [f"{x:.2f}" for x in income.tolist()],
        "plan": [PLANS[i] for i in plan_index.tolist()],
        "monthly_spend": [f"{x:.2f}" for x in spend.tolist()],
        "support_tickets": [str(t) for t in tickets.tolist()],
        "churn_risk": [f"{x:.3f}" for x in churn.tolist()],
        "last_login": [
            s + "Z"
            for s in np.datetime_as_string(last_login.astype("datetime64[s]"), unit="s").tolist()
        ],
        "is_active": ["true" if a else "false" for a in active.tolist()],
        "note": note,
    }
