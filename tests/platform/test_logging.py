"""Structured logs: secrets never appear, access lines carry request context."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterator

import httpx
import pytest
import structlog

from shieldx.config import LoggingSettings, Settings
from shieldx.platform import migrations
from shieldx.platform.app import create_app
from shieldx.platform.context import build_context
from shieldx.platform.logging import REDACTED, configure_logging, redact_secrets
from shieldx.testing.live import LiveServer

API_KEY = "shx_0123456789ab_" + "A" * 43
JWT = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"


def test_secret_fields_and_secret_shaped_values_are_redacted() -> None:
    event = redact_secrets(
        None,
        "info",
        {
            "event": f"user sent {API_KEY}",
            "authorization": "Bearer abc",
            "payment": {"card_number": "4242", "provider": "stripe"},
            "tokens": [JWT],
            "amount": 5,
        },
    )
    text = json.dumps(event)
    assert API_KEY not in text and JWT not in text and "4242" not in text and "abc" not in text
    assert event["authorization"] == REDACTED
    assert event["payment"] == {"card_number": REDACTED, "provider": "stripe"}
    assert event["amount"] == 5


@pytest.fixture
def captured_stderr(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.BytesIO]:
    buffer = io.BytesIO()
    fake = io.TextIOWrapper(buffer, write_through=True)
    monkeypatch.setattr(sys, "stderr", fake)
    configure_logging(LoggingSettings(level="info", format="json"))
    try:
        yield buffer
    finally:
        structlog.reset_defaults()


def test_access_log_is_json_with_request_context(
    captured_stderr: io.BytesIO, make_settings: Callable[..., Settings]
) -> None:
    ctx = build_context(make_settings())
    migrations.upgrade(ctx.db)
    from shieldx.platform.roles import Role

    _, key = ctx.api_keys.create(role=Role.SERVICE, tenant="acme")
    with LiveServer(create_app(ctx, "credits")) as server:
        httpx.get(
            server.url + "/whoami",
            headers={"Authorization": f"Bearer {key}", "X-Request-ID": "rid-1"},
        )
        httpx.get(server.url + "/whoami", headers={"Authorization": f"Bearer {API_KEY}"})
    ctx.close()
    lines = [json.loads(line) for line in captured_stderr.getvalue().splitlines() if line.strip()]
    access = [line for line in lines if line.get("event") == "http.request"]
    ok = next(line for line in access if line["status"] == 200)
    assert ok["request_id"] == "rid-1"
    assert ok["tenant"] == "acme" and ok["route"] == "/whoami" and ok["service"] == "credits"
    assert ok["duration_ms"] >= 0 and ok["level"] == "info" and "timestamp" in ok
    refused = next(line for line in access if line["status"] == 401)
    assert refused["level"] == "warning" and "not valid" in refused["problem"]
    raw = captured_stderr.getvalue().decode()
    assert key not in raw and API_KEY not in raw


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_a_logged_exception_never_shows_local_variables(
    monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    """Tracebacks are plain: a frame's locals (a key, a token) never reach the log."""
    buffer = io.BytesIO()
    monkeypatch.setattr(sys, "stderr", io.TextIOWrapper(buffer, write_through=True))
    configure_logging(LoggingSettings(level="info", format=fmt))
    try:

        def fail() -> None:
            signing_material = "local-value-that-must-not-be-logged"
            raise RuntimeError(f"failed after {len(signing_material)} characters")

        try:
            fail()
        except RuntimeError:
            structlog.get_logger("test").exception("boom")
    finally:
        structlog.reset_defaults()
    text = buffer.getvalue().decode()
    assert "RuntimeError: failed after 35 characters" in text
    assert "local-value-that-must-not-be-logged" not in text
