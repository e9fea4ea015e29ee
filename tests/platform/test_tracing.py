"""OpenTelemetry traces from a real `shieldx serve credits` process to a real OTLP/HTTP
receiver on loopback: a server span per request with the request id, its children (the ledger
commit, the database statements), W3C trace context honoured."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest

from shieldx.config import ConfigError, load_settings
from shieldx.platform.loadgen import free_port, spawn_server
from shieldx.testing.otlp import OtlpReceiver

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


def test_requests_are_traced_over_otlp(tmp_path: Path) -> None:
    admin = "shx_trace_" + secrets.token_urlsafe(24)
    with OtlpReceiver() as receiver:
        env = {
            "SHIELDX_OBSERVABILITY_OTLP_ENDPOINT": receiver.url,
            "SHIELDX_OBSERVABILITY_EXPORT_INTERVAL": "100ms",
            "SHIELDX_LOGGING_LEVEL": "warning",
        }
        args = ["serve", "credits", "--port", str(free_port())]
        with spawn_server(args, data_dir=tmp_path / "data", admin_key=admin, env=env) as server:
            answer = httpx.post(
                server.urls["credits"] + "/credits/purchase",
                json={"tenant": "t1", "account_id": "acct", "amount": 100},
                headers={
                    "Authorization": f"Bearer {admin}",
                    "Idempotency-Key": "p-1",
                    "X-Request-ID": "req-trace-1",
                    "traceparent": f"00-{TRACE_ID}-{PARENT}-01",
                },
            )
            assert answer.status_code == 201, answer.text
            assert httpx.get(server.urls["credits"] + "/health").status_code == 200

            def complete(spans: list[dict[str, Any]]) -> bool:
                names = {s["name"] for s in spans if s["trace_id"] == TRACE_ID}
                return {"POST /credits/purchase", "credits.commit"} <= names

            spans = receiver.wait_for(complete)
    traced = [s for s in spans if s["trace_id"] == TRACE_ID]
    (request,) = [s for s in traced if s["name"] == "POST /credits/purchase"]
    assert request["service"] == "shieldx-credits"
    assert request["parent_span_id"] == PARENT  # continues the caller's trace
    assert request["attributes"]["shieldx.request_id"] == "req-trace-1"
    assert request["attributes"]["http.route"] == "/credits/purchase"
    assert request["attributes"]["http.response.status_code"] == 201
    (commit,) = [s for s in traced if s["name"] == "credits.commit"]
    assert commit["parent_span_id"] == request["span_id"]
    statements = [s for s in traced if "db.query.text" in s["attributes"]]
    assert statements, "no database span in the request's trace"
    assert all(s["attributes"]["db.system.name"] == "sqlite" for s in statements)
    assert admin not in str(spans)
    assert not any(s["attributes"].get("url.path") == "/health" for s in spans)  # probes untraced
    assert set(receiver.content_types) == {"application/x-protobuf"}


def test_the_endpoint_must_be_http() -> None:
    with pytest.raises(ConfigError, match=r"observability\.otlp_endpoint must be an http"):
        load_settings(environ={"SHIELDX_OBSERVABILITY_OTLP_ENDPOINT": "grpc://collector:4317"})
