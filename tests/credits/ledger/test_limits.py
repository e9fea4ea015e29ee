"""Every limit is checked once for single operations and batches: out of range is a 4xx."""

from __future__ import annotations

import httpx
import orjson
import pytest
import sqlalchemy as sa

from shieldx.credits import tables
from shieldx.credits.ledger.ids import new_id
from shieldx.platform.context import PlatformContext

from ..conftest import Api, serve_credits


def _raw(api: Api, path: str, body: str, *, as_: str = "a") -> httpx.Response:
    """POST BODY verbatim (JSON extensions such as Infinity are not re-encoded)."""
    headers = {
        "Authorization": f"Bearer {api.keys[as_]}",
        "Idempotency-Key": new_id("k"),
        "Content-Type": "application/json",
    }
    return api.http.post(path, content=body.encode(), headers=headers)


def _events(ctx: PlatformContext) -> int:
    with ctx.db.read() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(tables.event_store))
        return int(count.scalar_one())


def test_a_batch_hold_beyond_max_hold_ttl_is_a_422_and_writes_go_on(
    platform_ctx: PlatformContext,
) -> None:
    with serve_credits(platform_ctx) as api:
        assert api.post("/credits/purchase", {"account_id": "a", "amount": 5}).status_code == 201
        body = '{"operations":[{"op":"reserve","account_id":"a","amount":1,"ttl_seconds":1e12}]}'
        refused = _raw(api, "/credits/batch", body)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "credits.max_hold_ttl" in refused.json()["detail"]
        # The writer is unharmed: another tenant (and the same one) can still write.
        other = api.post("/credits/purchase", {"account_id": "b-1", "amount": 5}, as_="b")
        assert other.status_code == 201, other.text
        same = api.post("/credits/purchase", {"account_id": "a", "amount": 5})
        assert same.status_code == 201, same.text
        held = api.post("/credits/reserve", {"account_id": "a", "amount": 1, "ttl_seconds": 60})
        assert held.status_code == 201, held.text
        assert api.get("/credits/balance/a").json()["available"] == 9  # the batch held nothing
        assert api.http.get("/ready").status_code == 200


@pytest.mark.parametrize(
    "ttl", ["Infinity", "-Infinity", "NaN", "1e308", "1e309", "1e12", "0", "-1", "1e-9"]
)
def test_an_extreme_ttl_is_a_422_on_reserve_and_in_a_batch(
    platform_ctx: PlatformContext, ttl: str
) -> None:
    with serve_credits(platform_ctx) as api:
        assert api.post("/credits/purchase", {"account_id": "a", "amount": 5}).status_code == 201
        before = _events(platform_ctx)
        single = f'{{"account_id":"a","amount":1,"ttl_seconds":{ttl}}}'
        batch = (
            f'{{"operations":[{{"op":"reserve","account_id":"a","amount":1,"ttl_seconds":{ttl}}}]}}'
        )
        for path, body in (("/credits/reserve", single), ("/credits/batch", batch)):
            answer = _raw(api, path, body)
            assert answer.status_code == 422, (path, answer.text)
            assert answer.json()["type"].endswith("validation-error"), answer.text
        assert _events(platform_ctx) == before  # nothing was recorded
        after = api.post("/credits/consume", {"account_id": "a", "amount": 1, "reason": "r"})
        assert after.status_code == 200, after.text


@pytest.mark.parametrize(
    "expires_at",
    [
        "9999-12-31T23:59:59-23:59",  # a valid datetime whose UTC instant is in year 10000
        "0001-01-01T00:00:00+23:00",  # one whose UTC instant is in year 0
        "10000-01-01T00:00:00Z",
        "99999999999999999999",
        "1e309",
    ],
)
def test_an_unrepresentable_grant_expiry_is_a_4xx(
    platform_ctx: PlatformContext, expires_at: str
) -> None:
    with serve_credits(platform_ctx) as api:
        value = orjson.dumps(expires_at).decode() if "-" in expires_at else expires_at
        single = f'{{"account_id":"a","amount":1,"expires_at":{value}}}'
        batch = f'{{"operations":[{{"op":"purchase","account_id":"a","amount":1,"expires_at":{value}}}]}}'
        for path, body in (("/credits/purchase", single), ("/credits/batch", batch)):
            answer = _raw(api, path, body)
            assert 400 <= answer.status_code < 500, (path, answer.text)
            assert answer.json()["detail"], answer.text
        assert _events(platform_ctx) == 0
        ok = api.post("/credits/purchase", {"account_id": "a", "amount": 1}, as_="b")
        assert ok.status_code == 201, ok.text


EXTREMES = [
    "0",
    "-1",
    str(2**31),
    str(2**53),
    str(2**63 - 1),
    str(2**63),
    str(2**64),
    "1e308",
    "1e309",
    "-1e309",
    "Infinity",
    "NaN",
    '"\u0663"',  # ARABIC-INDIC DIGIT THREE
    '"\u00b2"',  # SUPERSCRIPT TWO
    '""',
    '"' + "9" * 10_000 + '"',
    '"\\u0000"',
    '"9999-12-31T23:59:59-23:59"',
]
# Every field of every command route a number, duration, time or id goes into.
FIELDS: dict[str, tuple[str, ...]] = {
    "/credits/accounts": ("account_id",),
    "/credits/purchase": ("account_id", "amount", "priority", "expires_at"),
    "/credits/consume": ("account_id", "amount"),
    "/credits/reserve": ("account_id", "amount", "ttl_seconds"),
    "/credits/commit": ("reservation_id", "amount"),
    "/credits/cancel": ("reservation_id",),
    "/credits/threshold": ("account_id", "threshold"),
}
BATCH_OPS = {"purchase", "consume", "reserve", "commit", "cancel"}


def test_extreme_values_in_every_command_field_never_answer_5xx_nor_change_state_on_4xx(
    platform_ctx: PlatformContext,
) -> None:
    with serve_credits(platform_ctx) as api:
        assert (
            api.post("/credits/purchase", {"account_id": "x", "amount": 10**15}).status_code == 201
        )

        def valid(path: str) -> dict[str, object]:
            hold = api.post("/credits/reserve", {"account_id": "x", "amount": 1, "ttl_seconds": 60})
            assert hold.status_code == 201, hold.text
            bodies: dict[str, dict[str, object]] = {
                "/credits/accounts": {"account_id": "y"},
                "/credits/purchase": {"account_id": "x", "amount": 1},
                "/credits/consume": {"account_id": "x", "amount": 1, "reason": "r"},
                "/credits/reserve": {"account_id": "x", "amount": 1, "ttl_seconds": 60},
                "/credits/commit": {"reservation_id": hold.json()["reservation_id"]},
                "/credits/cancel": {"reservation_id": hold.json()["reservation_id"]},
                "/credits/threshold": {"account_id": "x", "threshold": 1},
            }
            return bodies[path]

        tried = 0
        for path, fields in FIELDS.items():
            for field in fields:
                for value in EXTREMES:
                    base = {**valid(path), field: "__value__"}
                    op = path.rsplit("/", 1)[1]
                    sends = [(path, base)]
                    if op in BATCH_OPS:
                        sends.append(("/credits/batch", {"operations": [{"op": op, **base}]}))
                    for target, body in sends:
                        before = _events(platform_ctx)
                        text = orjson.dumps(body).decode().replace('"__value__"', value)
                        answer = _raw(api, target, text)
                        tried += 1
                        assert answer.status_code < 500, (target, field, value, answer.text)
                        if answer.status_code >= 400:
                            assert answer.json()["detail"], answer.text
                            assert _events(platform_ctx) == before, (target, field, value)
        assert tried > 300
        assert api.http.get("/ready").status_code == 200
        ok = api.post("/credits/consume", {"account_id": "x", "amount": 1, "reason": "r"}, as_="a")
        assert ok.status_code == 200, ok.text
