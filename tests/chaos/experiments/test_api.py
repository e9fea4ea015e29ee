"""The chaos routes on a live credits service: shipped experiments end to end over real HTTP,
halting on purpose, refusals, and the ledger intact afterwards."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from shieldx.chaos import tables
from shieldx.config import Settings

from ..conftest import Live, chaos_settings, experiment, serve


def purchase(live: Live, amount: int = 10) -> float:
    """One acknowledged purchase; its latency in seconds."""
    began = time.perf_counter()
    response = live.http.post(
        "/credits/purchase",
        json={"account_id": "acct-1", "amount": amount},
        headers={**live.headers("operator"), "Idempotency-Key": secrets.token_hex(8)},
    )
    assert response.status_code == 201, response.text
    return time.perf_counter() - began


def wait_for_fault(live: Live, timeout: float = 10.0) -> None:
    """Poll until the running experiment has injected its fault."""
    deadline = time.monotonic() + timeout
    while not live.http.get("/chaos/faults", headers=live.headers()).json()["faults"]:
        assert time.monotonic() < deadline, "no fault was injected in time"
        time.sleep(0.01)


def assert_ledger_intact_and_no_fault_left(live: Live, purchases: int) -> None:
    verify = live.http.post("/credits/audit/verify", json={"deep": True}, headers=live.headers())
    assert verify.status_code == 200 and verify.json()["ok"], verify.text
    balance = live.http.get("/credits/balance/acct-1", headers=live.headers("operator"))
    assert balance.json()["balance"] == 10 * purchases
    faults = live.http.get("/chaos/faults", headers=live.headers()).json()
    assert faults["faults"] == []


def test_halt_on_threshold_is_halted_and_rolled_back_within_5_s(live: Live) -> None:
    for _ in range(3):
        purchase(live)
    began = time.monotonic()
    started = live.http.post(
        "/chaos/experiment", json=experiment("halt_on_threshold"), headers=live.headers()
    )
    assert started.status_code == 202, started.text
    assert started.json()["status"] == "running"
    doc = live.wait_ended(started.json()["id"])
    # The fault would last 20 s; the breach ended it long before.
    assert time.monotonic() - began < 5
    assert doc["status"] == "halted" and doc["rolled_back"] is True
    assert doc["rollback_s"] < 5 and doc["recovery_s"] is not None
    assert doc["error_rate"] > 5 and [v["kind"] for v in doc["violations"]] == ["error_rate"]
    with live.ctx.db.read() as conn:
        rows = conn.execute(sa.select(tables.safety_violations)).all()
        stored = conn.execute(sa.select(tables.experiments.c.status)).scalar_one()
        metric = conn.execute(sa.select(tables.metrics)).one()
    assert [(r.experiment_id, r.kind) for r in rows] == [(doc["id"], "error_rate")]
    assert stored == "halted" and metric.failed_requests > 0
    scrape = live.http.get("/metrics").text
    assert 'chaos_safety_violations_total{kind="error_rate"} 1.0' in scrape
    assert 'chaos_experiments_total{status="halted",type="service_failure"} 1.0' in scrape
    assert_ledger_intact_and_no_fault_left(live, purchases=3)


def test_high_latency_delays_the_credits_api_then_completes(live: Live) -> None:
    purchase(live)
    started = live.http.post(
        "/chaos/experiment", json=experiment("high_latency"), headers=live.headers()
    )
    assert started.status_code == 202, started.text
    wait_for_fault(live)
    slow = [purchase(live) for _ in range(3)]
    doc = live.wait_ended(started.json()["id"])
    assert min(slow) >= 0.05  # every /credits request was delayed by 50 ms
    assert doc["status"] == "completed" and doc["rolled_back"] is True
    assert doc["violations"] == [] and doc["p99_ms"] >= 50
    assert purchase(live) < 0.05 * 4  # and no longer once rolled back
    stored = live.http.get(f"/chaos/status/{doc['id']}", headers=live.headers()).json()
    assert stored["status"] == "completed"
    assert_ledger_intact_and_no_fault_left(live, purchases=5)


def test_short_form_and_abort(live: Live) -> None:
    started = live.http.post(
        "/chaos/experiment",
        json={"type": "high_latency", "duration": "1m", "target": "/credits", "intensity": 0.01},
        headers=live.headers(),
    )
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    aborted = live.http.post(f"/chaos/experiments/{run_id}/abort", headers=live.headers())
    assert aborted.status_code == 200
    doc = live.wait_ended(run_id, timeout=10)
    assert doc["status"] == "completed" and doc["rolled_back"] is True
    listed = live.http.get("/chaos/experiments", headers=live.headers()).json()
    assert [e["id"] for e in listed] == [run_id]


def test_bad_requests_are_refused_and_change_nothing(live: Live) -> None:
    as_operator = live.http.post(
        "/chaos/experiment", json=experiment("high_latency"), headers=live.headers("operator")
    )
    assert as_operator.status_code == 403
    invalid = live.http.post("/chaos/experiment", json={"type": "meteor"}, headers=live.headers())
    assert invalid.status_code == 422
    assert "body.type: Input should be 'service_failure'" in invalid.json()["detail"]
    not_json = live.http.post(
        "/chaos/experiment",
        content=b"{",
        headers={**live.headers(), "Content-Type": "application/json"},
    )
    assert not_json.status_code == 400
    unknown_proxy = live.http.post(
        "/chaos/faults", json={"kind": "latency", "target": "nope"}, headers=live.headers()
    )
    assert unknown_proxy.status_code == 422
    assert "no proxy named 'nope'" in unknown_proxy.json()["detail"]
    missing = live.http.get("/chaos/status/exp_nope", headers=live.headers())
    assert missing.status_code == 404
    with live.ctx.db.read() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(tables.experiments)).scalar()
    assert count == 0


@pytest.mark.parametrize(
    ("chaos", "reason"),
    [
        ({"enabled": False}, "chaos.enabled"),
        ({"safe_hours": []}, "chaos.safe_hours"),
        ({"environment": "production"}, "chaos.production_enabled"),
    ],
)
def test_the_safety_rules_refuse_to_start(
    make_settings: Callable[..., Settings], chaos: dict[str, object], reason: str
) -> None:
    settings = make_settings(credits={"commit_process": False}, **chaos_settings(**chaos))
    with serve(settings) as live:
        refused = live.http.post(
            "/chaos/experiment", json=experiment("high_latency"), headers=live.headers()
        )
        assert refused.status_code == 409
        assert reason in refused.json()["detail"]
        fault = live.http.post(
            "/chaos/faults", json={"kind": "http_delay", "ttl_s": 5}, headers=live.headers()
        )
        assert fault.status_code == 409


def test_loose_faults_are_guarded_too(live: Live) -> None:
    """A fault injected alone (as `chaos run` does) is rolled back when a limit breaks."""
    added = live.http.post(
        "/chaos/faults",
        json={"kind": "http_abort", "path": "/ready", "ttl_s": 60},
        headers=live.headers(),
    )
    assert added.status_code == 201, added.text
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            live.http.get("/ready")

    worker = threading.Thread(target=load)
    worker.start()
    try:
        deadline = time.monotonic() + 5
        while live.http.get("/chaos/faults", headers=live.headers()).json()["faults"]:
            assert time.monotonic() < deadline, "the guard did not roll the fault back"
            time.sleep(0.05)
    finally:
        stop.set()
        worker.join()
    with live.ctx.db.read() as conn:
        row = conn.execute(sa.select(tables.safety_violations)).first()
    assert row is not None and row.experiment_id is None and row.kind == "error_rate"
