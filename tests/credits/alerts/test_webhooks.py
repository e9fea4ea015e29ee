"""Low-balance alerts: once per crossing, stored, counted, and POSTed with a verifiable signature."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from shieldx.config import Settings
from shieldx.credits import tables
from shieldx.platform import migrations
from shieldx.platform.context import PlatformContext, build_context
from shieldx.platform.webhooks import SIGNATURE_HEADER, verify

from ..conftest import serve_credits


def test_an_alert_fires_once_per_crossing(ctx_on_backend: PlatformContext) -> None:
    with serve_credits(ctx_on_backend) as api:
        api.post("/credits/purchase", {"account_id": "a1", "amount": 100})
        set_ = api.post("/credits/threshold", {"account_id": "a1", "threshold": 50})
        assert set_.json()["armed"] is True and "webhook_secret" not in set_.json()
        for amount in (40, 20, 10, 5):  # 60 (above), 40 (crossing), 30, 25 (still below)
            api.post("/credits/consume", {"account_id": "a1", "amount": amount, "reason": "x"})
        assert len(api.get("/credits/alerts", account_id="a1").json()["items"]) == 1
        api.post("/credits/purchase", {"account_id": "a1", "amount": 100})  # 125: re-armed
        api.post("/credits/consume", {"account_id": "a1", "amount": 80, "reason": "x"})  # 45
        alerts = api.get("/credits/alerts", account_id="a1").json()["items"]
        metrics = api.http.get("/metrics").text
    assert [(a["threshold"], a["available"]) for a in alerts] == [(50, 45), (50, 40)]
    assert all(a["delivery"] == "none" for a in alerts)
    assert "credits_alerts_total 2.0" in metrics


class Receiver:
    """A real HTTP server that fails the first delivery and accepts the second."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.accepted = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                status = 500 if len(receiver.requests) == 1 else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if status == 204:
                    receiver.accepted.set()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    @contextmanager
    def running(self) -> Iterator[Receiver]:
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def webhook_ctx(
    backend_url: str, make_settings: Callable[..., Settings]
) -> Iterator[PlatformContext]:
    settings = make_settings(
        database={"url": backend_url},
        credits={"webhooks": {"allow_private_targets": True, "backoff": "50ms"}},
    )
    ctx = build_context(settings)
    migrations.upgrade(ctx.db)
    try:
        yield ctx
    finally:
        ctx.close()


def test_a_webhook_is_retried_and_its_signature_verifies(webhook_ctx: PlatformContext) -> None:
    with Receiver().running() as receiver, serve_credits(webhook_ctx) as api:
        api.post("/credits/purchase", {"account_id": "a1", "amount": 100})
        answer = api.post(
            "/credits/threshold", {"account_id": "a1", "threshold": 50, "webhook_url": receiver.url}
        ).json()
        secret = answer["webhook_secret"].encode()
        api.post("/credits/consume", {"account_id": "a1", "amount": 60, "reason": "x"})
        assert receiver.accepted.wait(10)
        deadline = time.monotonic() + 10
        while (alert := api.get("/credits/alerts").json()["items"][0])["delivery"] != "delivered":
            assert time.monotonic() < deadline, alert
            receiver.accepted.wait(0.05)
    assert alert["attempts"] == 2
    assert len(receiver.requests) == 2
    headers, body = receiver.requests[-1]
    assert verify(secret, headers[SIGNATURE_HEADER], body, now=int(time.time()))
    assert not verify(b"wrong", headers[SIGNATURE_HEADER], body, now=int(time.time()))
    assert headers["ShieldX-Event-Id"] == alert["alert_id"]
    with webhook_ctx.db.read() as conn:
        stored = conn.execute(sa.select(tables.thresholds.c.webhook_secret)).scalar_one()
    assert secret.decode() not in stored  # sealed at rest


def test_private_webhook_targets_are_refused_by_default(platform_ctx: PlatformContext) -> None:
    with serve_credits(platform_ctx) as api:
        for url in (
            "http://127.0.0.1:9/x",
            "http://10.0.0.1/x",
            "http://localhost/x",
            "http://0/x",  # legacy IPv4 spellings of private addresses, too
            "http://127.1/x",
            "http://2130706433/x",
            "http://0x7f.1/x",
        ):
            response = api.post(
                "/credits/threshold", {"account_id": "a1", "threshold": 1, "webhook_url": url}
            )
            assert response.status_code == 422, url
