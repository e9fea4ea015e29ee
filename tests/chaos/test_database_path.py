"""Faults on the real database path: credits on a throwaway PostgreSQL reached through the
chaos proxy; slow queries, a killed commit process, and the ledger intact afterwards."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy.engine import make_url

from shieldx.chaos.faults.process import commit_process_pid
from shieldx.config import Settings

from .conftest import Live, chaos_settings, experiment, free_port, serve

pytestmark = pytest.mark.postgres


@pytest.fixture
def live_pg(make_settings: Callable[..., Settings], postgres_url: str) -> Iterator[Live]:
    """Credits (with its commit process) on PostgreSQL through the proxy named 'database'."""
    real = make_url(postgres_url)
    port = free_port()
    through_proxy = real.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    proxies = {"database": {"listen": f"127.0.0.1:{port}", "upstream": f"{real.host}:{real.port}"}}
    settings = make_settings(database={"url": through_proxy}, **chaos_settings(proxies=proxies))
    with serve(settings, direct_url=postgres_url) as running:
        yield running


def purchase(live: Live) -> float:
    began = time.perf_counter()
    response = live.http.post(
        "/credits/purchase",
        json={"account_id": "acct-1", "amount": 10},
        headers={**live.headers("operator"), "Idempotency-Key": secrets.token_hex(8)},
    )
    assert response.status_code == 201, response.text
    return time.perf_counter() - began


def faults(live: Live) -> list[dict[str, object]]:
    answer: list[dict[str, object]] = live.http.get("/chaos/faults", headers=live.headers()).json()[
        "faults"
    ]
    return answer


def test_db_slow_query_slows_commits_then_the_ledger_verifies(live_pg: Live) -> None:
    live = live_pg
    quick = min(purchase(live) for _ in range(3))
    short = experiment("db_slow_query")
    short["method"][0]["provider"]["arguments"]["duration"] = "2s"
    short["extensions"][0]["duration"] = "2s"
    started = live.http.post("/chaos/experiment", json=short, headers=live.headers())
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 10
    while not faults(live):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    slow = purchase(live)
    doc = live.wait_ended(started.json()["id"])
    # A commit makes several round trips to PostgreSQL, each now 2 x (100 +- 20) ms slower.
    assert slow >= 0.16 > quick, (slow, quick)
    assert doc["status"] == "completed" and doc["rolled_back"] is True, doc
    assert purchase(live) < 0.16
    verify = live.http.post("/credits/audit/verify", json={"deep": True}, headers=live.headers())
    assert verify.json()["ok"] is True and faults(live) == []


def test_service_failure_kills_the_commit_process_and_the_supervisor_restores_it(
    live_pg: Live,
) -> None:
    live = live_pg
    purchase(live)
    before = commit_process_pid()  # the server runs in this test process
    started = live.http.post(
        "/chaos/experiment", json=experiment("service_failure"), headers=live.headers()
    )
    assert started.status_code == 202, started.text
    doc = live.wait_ended(started.json()["id"])
    assert doc["status"] == "completed", doc
    assert doc["recovery_s"] is not None
    assert commit_process_pid() != before  # killed, and a new one took its place
    # Writes work again through the restarted commit process, and nothing was lost.
    purchase(live)
    balance = live.http.get("/credits/balance/acct-1", headers=live.headers("operator")).json()
    assert balance["balance"] == 20
    verify = live.http.post("/credits/audit/verify", json={"deep": True}, headers=live.headers())
    assert verify.json()["ok"] is True
