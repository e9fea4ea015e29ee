"""The credits API over real loopback HTTP, on both backends."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from shieldx.credits import tables
from shieldx.credits.audit import schemas as audit_schemas
from shieldx.credits.ledger import schemas
from shieldx.credits.ledger.domain import Account
from shieldx.credits.ledger.events import decode
from shieldx.credits.projections import schemas as read_schemas
from shieldx.platform.context import PlatformContext

from ..conftest import Api, serve_credits

PAYMENT = {
    "provider": "stripe",
    "reference": "pi_123",
    "card_last4": "4242",
    "card_token": "tok_SECRET",
}


def _buy(api: Api, account: str, amount: int, as_: str = "a", **extra: object) -> dict[str, object]:
    response = api.post(
        "/credits/purchase", {"account_id": account, "amount": amount, **extra}, as_=as_
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert isinstance(body, dict)
    return body


def _events(ctx: PlatformContext) -> int:
    with ctx.db.read() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).select_from(tables.event_store)).scalar_one()
        )


def test_a_purchase_seals_the_payment_and_shows_only_a_summary(
    ctx_on_backend: PlatformContext,
) -> None:
    with serve_credits(ctx_on_backend) as api:
        body = _buy(api, "acct-1", 500, payment=PAYMENT)
        assert body["payment"] == {
            "provider": "stripe",
            "reference": "pi_123",
            "card_last4": "4242",
        }
        assert (body["balance"], body["available"]) == (500, 500)
        history = api.get("/credits/history", account_id="acct-1").text
    assert "tok_SECRET" not in history
    with ctx_on_backend.db.read() as conn:
        row = conn.execute(sa.select(tables.payments)).one()
        logged = conn.execute(sa.select(tables.command_log.c.response)).scalars().all()
        stored = conn.execute(sa.select(tables.event_store.c.data)).scalars().all()
    assert "tok_SECRET" not in row.details + "".join(logged) + "".join(stored)
    opened = ctx_on_backend.keyring.decrypt(row.details, context="credits.payment:acct-1")
    assert b"tok_SECRET" in opened
    assert row.key_id == ctx_on_backend.keyring.active_id


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("reference", "4111111111111111"),
        ("reference", "order 4111 1111 1111 1111"),
        ("reference", "378282246310005"),
        ("provider", "5500-0055-5555-5559"),
    ],
)
def test_a_card_number_in_the_payment_details_is_refused_and_nothing_is_stored(
    ctx_on_backend: PlatformContext, field: str, value: str
) -> None:
    body = {"account_id": "acct-card", "amount": 50, "payment": {**PAYMENT, field: value}}
    with serve_credits(ctx_on_backend) as api:
        refused = api.post("/credits/purchase", body, key="card-1")
    assert refused.status_code == 422, refused.text
    assert f"body.payment.{field}" in refused.json()["detail"]
    assert "card number" in refused.json()["detail"]
    digits = value.replace(" ", "").replace("-", "")
    assert digits[4:12] not in refused.text.replace(" ", "").replace("-", "")  # not echoed
    with ctx_on_backend.db.read() as conn:
        for table in (tables.command_log, tables.event_store, tables.payments):
            assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 0


def test_the_purchase_answer_in_the_command_log_is_sealed(
    ctx_on_backend: PlatformContext,
) -> None:
    reference = "pi_3MtwBwLkdIwHu7ix28a3tqPa"  # the answer repeats the payment reference
    body = {"account_id": "acct-ref", "amount": 50, "payment": {**PAYMENT, "reference": reference}}
    with serve_credits(ctx_on_backend) as api:
        first = api.post("/credits/purchase", body, key="ref-1")
        assert first.status_code == 201, first.text
        assert first.json()["payment"]["reference"] == reference
        again = api.post("/credits/purchase", body, key="ref-1")
    with ctx_on_backend.db.read() as conn:
        rows = conn.execute(sa.select(tables.command_log)).all()
    assert len(rows) == 1
    assert reference not in rows[0].response
    assert not rows[0].response.startswith("{")  # sealed, not JSON
    # A fresh process answers the retry from the (sealed) command log: the same bytes.
    with serve_credits(ctx_on_backend) as api:
        restarted = api.post("/credits/purchase", body, key="ref-1")
    for retry in (again, restarted):
        assert (retry.status_code, retry.content) == (first.status_code, first.content)
        assert retry.headers["Idempotent-Replayed"] == "true"


def test_idempotency_keys(ctx_on_backend: PlatformContext) -> None:
    with serve_credits(ctx_on_backend) as api:
        _buy(api, "acct-1", 100)
        body = {"account_id": "acct-1", "amount": 30, "reason": "api"}
        missing = api.post("/credits/consume", body, key=None)
        assert missing.status_code == 400
        assert missing.json()["type"].endswith("/idempotency-key-missing")
        first = api.post("/credits/consume", body, key="k-1")
        again = api.post("/credits/consume", body, key="k-1")
        assert first.status_code == again.status_code == 200
        assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
        other = api.post("/credits/consume", {**body, "amount": 31}, key="k-1")
        assert other.status_code == 409
        assert other.json()["type"].endswith("/idempotency-key-reused")
        # A refusal records nothing, so the same key may succeed once credits are there.
        refused = api.post("/credits/consume", {**body, "amount": 100}, key="k-2")
        assert refused.status_code == 409
        _buy(api, "acct-1", 100)
        assert api.post("/credits/consume", {**body, "amount": 100}, key="k-2").status_code == 200
        balance = api.get("/credits/balance/acct-1").json()
    assert (balance["balance"], balance["available"]) == (70, 70)


@pytest.mark.parametrize(
    "amount", [0, -5, 2**63, 1.5, "10", None, True], ids=lambda a: f"amount={a!r}"
)
def test_amounts_must_be_64_bit_integers(platform_ctx: PlatformContext, amount: object) -> None:
    with serve_credits(platform_ctx) as api:
        before = _events(platform_ctx)
        response = api.post("/credits/purchase", {"account_id": "acct-1", "amount": amount})
        assert response.status_code == 422, response.text
        assert _events(platform_ctx) == before


def test_a_tenant_scoped_key_never_sees_or_changes_another_tenant(
    ctx_on_backend: PlatformContext,
) -> None:
    with serve_credits(ctx_on_backend) as api:
        _buy(api, "shared-name", 100, as_="b")
        hold = api.post(
            "/credits/reserve",
            {"account_id": "shared-name", "amount": 10, "ttl_seconds": 60},
            as_="b",
        )
        rid = hold.json()["reservation_id"]
        # Same account id in tenant a is a different account.
        assert api.get("/credits/balance/shared-name").status_code == 404
        assert (
            api.post(
                "/credits/consume", {"account_id": "shared-name", "amount": 1, "reason": "x"}
            ).status_code
            == 404
        )
        assert api.post("/credits/commit", {"reservation_id": rid}).status_code == 404
        assert api.post("/credits/cancel", {"reservation_id": rid}).status_code == 404
        named = api.get("/credits/balance/shared-name", tenant="tenant-b")
        assert named.status_code == 403
        assert (
            api.post(
                "/credits/purchase", {"account_id": "x", "amount": 1, "tenant": "tenant-b"}
            ).status_code
            == 403
        )
        assert api.get("/credits/history").json()["items"] == []
        assert api.get("/credits/history", tenant="tenant-b").status_code == 403
        assert api.get("/credits/report").json()["buckets"] == []
        assert api.post("/credits/audit/verify", {}, key=None).status_code == 403
        # The other tenant's state is untouched; an admin must name the tenant.
        assert api.get("/credits/balance/shared-name", as_="admin").status_code == 422
        theirs = api.get("/credits/balance/shared-name", as_="admin", tenant="tenant-b").json()
        assert (theirs["balance"], theirs["held"]) == (100, 10)


def test_reservations_commit_partly_and_resolve_once(ctx_on_backend: PlatformContext) -> None:
    with serve_credits(ctx_on_backend) as api:
        _buy(api, "acct-1", 100)
        hold = api.post(
            "/credits/reserve",
            {"account_id": "acct-1", "amount": 40, "ttl_seconds": 60, "reason": "job"},
        )
        assert hold.status_code == 201 and hold.json()["available"] == 60
        rid = hold.json()["reservation_id"]
        too_much = api.post("/credits/commit", {"reservation_id": rid, "amount": 41})
        assert too_much.status_code == 422
        done = api.post("/credits/commit", {"reservation_id": rid, "amount": 15})
        assert done.status_code == 200
        assert done.json() | {"transaction_id": None} == {
            "transaction_id": None, "reservation_id": rid, "committed": 15, "released": 25,
            "balance": 85, "available": 85,
        }  # fmt: skip
        for path in ("/credits/commit", "/credits/cancel"):
            again = api.post(path, {"reservation_id": rid})
            assert again.status_code == 409
            assert again.json()["state"] == "committed"
        other = api.post(
            "/credits/reserve", {"account_id": "acct-1", "amount": 5, "ttl_seconds": 60}
        ).json()
        cancelled = api.post("/credits/cancel", {"reservation_id": other["reservation_id"]})
        assert cancelled.json()["released"] == 5 and cancelled.json()["available"] == 85
        assert (
            api.post("/credits/commit", {"reservation_id": other["reservation_id"]}).json()["state"]
            == "cancelled"
        )
        assert api.post("/credits/commit", {"reservation_id": "rsv_unknown"}).status_code == 404


def test_history_is_newest_first_with_a_keyset_cursor(ctx_on_backend: PlatformContext) -> None:
    with serve_credits(ctx_on_backend) as api:
        _buy(api, "acct-1", 100)
        _buy(api, "acct-2", 100)
        for n in range(1, 8):
            api.post(
                "/credits/consume", {"account_id": "acct-1", "amount": n, "reason": f"r{n % 2}"}
            )
        pages, cursor = [], None
        while True:
            params: dict[str, Any] = {"account_id": "acct-1", "limit": 3}
            if cursor:
                params["cursor"] = cursor
            page = api.get("/credits/history", **params).json()
            pages.append(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        items = [i for p in pages for i in p]
        assert [len(p) for p in pages] == [3, 3, 2]
        positions = [i["position"] for i in items]
        assert positions == sorted(positions, reverse=True)
        assert [i["balance_after"] for i in items] == [72, 79, 85, 90, 94, 97, 99, 100]
        consumed = api.get("/credits/history", account_id="acct-1", type="credits_consumed").json()
        assert {i["type"] for i in consumed["items"]} == {"credits_consumed"}
        assert len(api.get("/credits/history").json()["items"]) == 9
        bad = api.get("/credits/history", cursor="not-a-cursor")
        assert bad.status_code == 422 and bad.json()["type"].endswith("/invalid-cursor")


def test_report_per_bucket_and_total_as_json_and_csv(ctx_on_backend: PlatformContext) -> None:
    with serve_credits(ctx_on_backend) as api:
        _buy(api, "acct-1", 100, grant_type="promotional")
        api.post("/credits/consume", {"account_id": "acct-1", "amount": 7, "reason": "api"})
        api.post("/credits/consume", {"account_id": "acct-1", "amount": 3, "reason": "scan"})
        rid = api.post(
            "/credits/reserve",
            {"account_id": "acct-1", "amount": 20, "ttl_seconds": 60, "reason": "job"},
        ).json()["reservation_id"]
        api.post("/credits/commit", {"reservation_id": rid, "amount": 5})
        report = api.get("/credits/report", account_id="acct-1", granularity="day").json()
        total = report["total"]
        assert (total["purchased"], total["consumed"], total["held"], total["released"]) == (
            100,
            15,
            20,
            15,
        )
        assert total["consumed_by_reason"] == {"api": 7, "scan": 3, "job": 5}
        assert total["purchased_by_type"] == {"promotional": 100}
        assert len(report["buckets"]) == 1
        csv = api.get("/credits/report", account_id="acct-1", format="csv")
        assert csv.headers["content-type"].startswith("text/csv")
        lines = csv.text.strip().splitlines()
        assert (
            lines[0]
            == "start,purchased,consumed,held,released,expired,consumed:api,consumed:job,consumed:scan"
        )
        assert lines[-1] == "total,100,15,20,15,0,7,5,3"


def test_batch_is_all_or_none(ctx_on_backend: PlatformContext) -> None:
    with serve_credits(ctx_on_backend) as api:
        _buy(api, "acct-1", 50)
        before = _events(ctx_on_backend)
        refused = api.post("/credits/batch", {"operations": [
            {"op": "purchase", "account_id": "acct-2", "amount": 10},
            {"op": "consume", "account_id": "acct-1", "amount": 30, "reason": "a"},
            {"op": "consume", "account_id": "acct-1", "amount": 30, "reason": "b"},
        ]})  # fmt: skip
        assert refused.status_code == 409
        assert refused.json()["failed_index"] == 2
        assert refused.json()["type"].endswith("/insufficient-credits")
        assert _events(ctx_on_backend) == before
        assert api.get("/credits/balance/acct-2").status_code == 404
        done = api.post("/credits/batch", {"operations": [
            {"op": "consume", "account_id": "acct-1", "amount": 30, "reason": "a"},
            {"op": "purchase", "account_id": "acct-2", "amount": 10},
            {"op": "reserve", "account_id": "acct-2", "amount": 4, "ttl_seconds": 30},
        ]})  # fmt: skip
        assert done.status_code == 200, done.text
        results = done.json()["results"]
        assert [r["available"] for r in results] == [20, 10, 6]
        partial = api.post("/credits/batch", {"atomic": False, "operations": [
            {"op": "consume", "account_id": "acct-1", "amount": 50, "reason": "a"},
            {"op": "commit", "reservation_id": results[2]["reservation_id"]},
        ]})  # fmt: skip
        assert [r["status"] for r in partial.json()["results"]] == [409, 200]
        assert api.get("/credits/balance/acct-2").json()["balance"] == 6


def test_time_travel_equals_a_replay_of_the_events(ctx_on_backend: PlatformContext) -> None:
    with serve_credits(ctx_on_backend) as api:
        _buy(api, "acct-1", 100)
        for n in range(12):
            api.post("/credits/consume", {"account_id": "acct-1", "amount": n + 1, "reason": "x"})
            if n == 5:
                api.post(
                    "/credits/reserve", {"account_id": "acct-1", "amount": 9, "ttl_seconds": 60}
                )
        with ctx_on_backend.db.read() as conn:
            rows = conn.execute(
                sa.select(tables.event_store).order_by(tables.event_store.c.position)
            ).all()
        replay = Account("tenant-a", "acct-1")
        for row in rows:
            replay.apply(decode(row.type, row.amount, row.reason, row.tx, row.data))
            past = api.get("/credits/balance/acct-1", as_of=row.position).json()
            assert (past["balance"], past["held"], past["version"]) == (
                replay.balance,
                replay.held,
                replay.version,
            )
            assert past["as_of_position"] == row.position
        middle = rows[len(rows) // 2]
        at = api.get("/credits/history", account_id="acct-1", as_of=middle.position).json()
        assert max(i["position"] for i in at["items"]) <= middle.position
        current = api.get("/credits/balance/acct-1").json()
        assert (current["balance"], current["held"]) == (replay.balance, replay.held)
        assert api.get("/credits/balance/acct-1", as_of="2000-01-01T00:00:00Z").status_code == 404
        assert api.get("/credits/balance/acct-1", as_of="yesterday").status_code == 422


def test_openapi_documents_every_field_and_metrics_are_exposed(
    platform_ctx: PlatformContext,
) -> None:
    with serve_credits(platform_ctx) as api:
        _buy(api, "acct-1", 10)
        api.post("/credits/consume", {"account_id": "acct-1", "amount": 50, "reason": "x"})
        schema = api.get("/openapi.json").json()
        metrics = api.http.get("/metrics").text
    paths = set(schema["paths"])
    for path in ("/credits/purchase", "/credits/consume", "/credits/reserve", "/credits/commit",
                 "/credits/cancel", "/credits/balance/{account_id}", "/credits/history",
                 "/credits/threshold", "/credits/alerts", "/credits/report", "/credits/audit/verify",
                 "/credits/batch", "/credits/accounts"):  # fmt: skip
        assert path in paths
    ours = {
        n
        for module in (schemas, read_schemas, audit_schemas)
        for n, v in vars(module).items()
        if isinstance(v, type) and v.__module__ == module.__name__
    }
    undocumented = [
        f"{name}.{field}"
        for name, model in schema["components"]["schemas"].items()
        if name in ours
        for field, spec in model.get("properties", {}).items()
        if "description" not in spec
    ]
    assert undocumented == []
    assert 'credits_operations_total{op="purchase",result="ok"} 1.0' in metrics
    assert 'credits_operations_total{op="consume",result="refused"} 1.0' in metrics
    assert "credits_transaction_duration_seconds_bucket" in metrics
    assert "credits_balance_gauge" in metrics


def test_command_routes_check_auth_role_content_type_and_json(
    platform_ctx: PlatformContext,
) -> None:
    with serve_credits(platform_ctx) as api:
        body = {"account_id": "a", "amount": 1, "reason": "x"}
        assert api.http.post("/credits/consume", json=body).status_code == 401
        auditor = api.post("/credits/consume", body, as_="auditor")
        assert auditor.status_code == 403
        headers = {"Authorization": f"Bearer {api.keys['a']}", "Idempotency-Key": "k"}
        text = api.http.post(
            "/credits/consume", content=b"a=1", headers={**headers, "Content-Type": "text/plain"}
        )
        assert text.status_code == 415
        broken = api.http.post(
            "/credits/consume",
            content=b"{not json",
            headers={**headers, "Content-Type": "application/json"},
        )
        assert broken.status_code == 400 and broken.json()["type"].endswith("/malformed-json")
        unknown = api.post("/credits/consume", {**body, "colour": "red"})
        assert (
            unknown.status_code == 422 and unknown.json()["errors"][0]["location"] == "body.colour"
        )
        assert api.get("/credits/consume").status_code == 405
        metrics = api.http.get("/metrics").text
    assert 'route="/credits/consume"' in metrics
