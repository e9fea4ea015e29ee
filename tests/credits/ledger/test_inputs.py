"""Bad input to the credits API is a 4xx problem that says what is wrong, never a 500."""

from __future__ import annotations

import base64

import pytest
import sqlalchemy as sa

from shieldx.credits import tables
from shieldx.platform import parsing
from shieldx.platform.context import PlatformContext

from ..conftest import Api, serve_credits


def _buy(api: Api, account: str, amount: int, **extra: object) -> None:
    response = api.post("/credits/purchase", {"account_id": account, "amount": amount, **extra})
    assert response.status_code == 201, response.text


def _count(ctx: PlatformContext) -> int:
    with ctx.db.read() as conn:
        query = sa.select(sa.func.count()).select_from(tables.event_store)
        return int(conn.execute(query).scalar_one())


@pytest.mark.parametrize(
    "text",
    ["²", "٣", "\uff13", "1²", "99999999999999999999", "9" * 400, "", " 1", "1_0", "+1", "0x1"],
)
def test_the_shared_integer_parser_takes_ascii_digits_in_range_only(text: str) -> None:
    with pytest.raises(ValueError, match="must be"):
        parsing.parse_position(text)


def test_the_shared_parsers_accept_what_they_document() -> None:
    assert parsing.parse_position("0") == 0
    assert parsing.parse_int(str(2**63 - 1)) == 2**63 - 1
    assert parsing.parse_int("-5") == -5
    moment = parsing.parse_timestamp("2024-05-01T12:00:00.5Z")
    assert parsing.timestamp_us(moment) == 1_714_564_800_500_000
    for bad in (
        "2024-05-01T12:00:00Z\x00",
        "٢٠٢٤-05-01",
        "10000-01-01",
        "2024-13-01",
        "1969-12-31",
    ):
        with pytest.raises(ValueError, match=r"must|not a valid"):
            parsing.parse_timestamp(bad)


@pytest.mark.parametrize("as_of", ["²", "٣", "99999999999999999999", "-1", "2024-99-99", "1e3"])
def test_a_bad_as_of_is_a_422_naming_it(platform_ctx: PlatformContext, as_of: str) -> None:
    with serve_credits(platform_ctx) as api:
        _buy(api, "acct", 10)
        _buy(api, "acct", 10)
        _buy(api, "acct", 10)
        for path, params in (
            ("/credits/balance/acct", {}),
            ("/credits/history", {"account_id": "acct"}),
        ):
            response = api.get(path, as_of=as_of, **params)
            assert response.status_code == 422, (path, response.text)
            problem = response.json()
            assert problem["parameter"] == "as_of"
            assert "as_of must be a position" in problem["detail"]
        # The ASCII forms still travel in time.
        assert api.get("/credits/balance/acct", as_of="2").json()["balance"] == 10
        assert (
            api.get("/credits/balance/acct", as_of="2099-01-01T00:00:00Z").json()["balance"] == 30
        )


@pytest.mark.parametrize("raw", [b"p" + b"9" * 40, b"p\xd9\xa3", b"p-1", b"p", b"x12", b"\xff\xfe"])
def test_a_forged_history_cursor_is_a_422(platform_ctx: PlatformContext, raw: bytes) -> None:
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    with serve_credits(platform_ctx) as api:
        response = api.get("/credits/history", cursor=cursor)
    assert response.status_code == 422, response.text
    assert response.json()["type"].endswith("/invalid-cursor")


@pytest.mark.parametrize(
    "body",
    [
        {"from_position": 18446744073709551616},
        {"to_position": 2**63},
        {"from_position": "1"},
        {"from_position": 1.5},
    ],
)
def test_verify_positions_are_64_bit_integers(
    platform_ctx: PlatformContext, body: dict[str, object]
) -> None:
    with serve_credits(platform_ctx) as api:
        response = api.post("/credits/audit/verify", body, as_="admin", key=None)
    assert response.status_code == 422, response.text


def test_a_verify_range_past_the_head_or_reversed_is_a_422(platform_ctx: PlatformContext) -> None:
    with serve_credits(platform_ctx) as api:
        for n in range(12):
            _buy(api, f"acct-{n}", 5)
        head = api.post("/credits/audit/verify", {}, as_="admin", key=None).json()
        last = head["head_position"]
        assert head["ok"] and last == 24  # each first purchase also opens its account
        for body, words in (
            ({"from_position": 999999}, f"past the head of the log (position {last})"),
            ({"to_position": last + 1}, "past the head"),
            ({"from_position": 10, "to_position": 5}, "is after to_position"),
        ):
            response = api.post("/credits/audit/verify", body, as_="admin", key=None)
            assert response.status_code == 422, response.text
            assert words in response.json()["detail"]
        inside = api.post(
            "/credits/audit/verify",
            {"from_position": 5, "to_position": last},
            as_="admin",
            key=None,
        ).json()
        assert (inside["ok"], inside["verified_events"]) == (True, last - 4)


def test_a_purchase_that_expires_in_the_past_is_refused(platform_ctx: PlatformContext) -> None:
    with serve_credits(platform_ctx) as api:
        before = _count(platform_ctx)
        body = {"account_id": "acct", "amount": 5, "expires_at": "2001-01-01T00:00:00Z"}
        single = api.post("/credits/purchase", body)
        assert single.status_code == 422, single.text
        assert "expires_at is in the past" in single.json()["detail"]
        batch = api.post("/credits/batch", {"operations": [{"op": "purchase", **body}]})
        assert batch.status_code == 422, batch.text
        assert "expires_at is in the past" in batch.json()["detail"]
        assert _count(platform_ctx) == before
        _buy(api, "acct", 5, expires_at="2999-01-01T00:00:00Z")


def test_a_metering_key_cannot_buy_credits(platform_ctx: PlatformContext) -> None:
    with serve_credits(platform_ctx) as api:
        _buy(api, "acct", 100)  # an operator key of tenant a
        before = _count(platform_ctx)
        buy = {"account_id": "acct", "amount": 10**9}
        refused = api.post("/credits/purchase", buy, as_="svc-a")
        assert refused.status_code == 403, refused.text
        assert "allowed roles: admin, operator" in refused.json()["detail"]
        in_batch = api.post(
            "/credits/batch",
            {"operations": [{"op": "consume", "account_id": "acct", "amount": 1, "reason": "x"},
                            {"op": "purchase", **buy}]},
            as_="svc-a",
        )  # fmt: skip
        assert in_batch.status_code == 403, in_batch.text
        assert _count(platform_ctx) == before
        # What a metering key is for still works.
        use = {"account_id": "acct", "amount": 1, "reason": "api-call"}
        assert api.post("/credits/consume", use, as_="svc-a").status_code == 200
        assert api.get("/credits/balance/acct", as_="svc-a").json()["balance"] == 99


@pytest.mark.parametrize("bad", ["\x00", "a\x00b", "line\nbreak", "\x1b[31m"])
def test_control_characters_are_refused_in_every_credits_string(
    ctx_on_backend: PlatformContext, bad: str
) -> None:
    with serve_credits(ctx_on_backend) as api:
        _buy(api, "acct", 10)
        before = _count(ctx_on_backend)
        bodies: list[tuple[str, dict[str, object]]] = [
            ("/credits/consume", {"account_id": "acct", "amount": 1, "reason": bad}),
            ("/credits/reserve", {"account_id": "acct", "amount": 1, "ttl_seconds": 9, "reason": bad}),
            ("/credits/commit", {"reservation_id": bad}),
            ("/credits/cancel", {"reservation_id": bad}),
            ("/credits/accounts", {"account_id": "new", "metadata": {"k": bad}}),
            ("/credits/accounts", {"account_id": "new", "metadata": {bad: "v"}}),
            ("/credits/purchase", {"account_id": "acct", "amount": 1,
                                   "payment": {"provider": bad, "reference": "r"}}),
            ("/credits/threshold", {"account_id": "acct", "threshold": 1,
                                    "webhook_url": f"https://hooks.example/{bad}"}),
            ("/credits/batch", {"operations": [
                {"op": "consume", "account_id": "acct", "amount": 1, "reason": bad}]}),
        ]  # fmt: skip
        for path, body in bodies:
            response = api.post(path, body)
            assert response.status_code == 422, (path, response.text)
        admin = api.post("/credits/consume", {"account_id": "acct", "amount": 1, "reason": "x",
                                              "tenant": bad}, as_="admin")  # fmt: skip
        assert admin.status_code == 422, admin.text
        for path, params in (
            ("/credits/balance/acct", {"tenant": bad}),
            ("/credits/history", {"tenant": bad}),
            ("/credits/history", {"cursor": bad}),
            ("/credits/history", {"type": bad}),
            ("/credits/alerts", {"cursor": bad}),
            ("/credits/alerts", {"tenant": bad}),
        ):
            response = api.get(path, as_="admin", **params)
            # (a NUL anywhere in a URL is already a 400 from the platform middleware)
            assert response.status_code in (400, 422), (path, params, response.text)
        assert _count(ctx_on_backend) == before
