"""The SIEM exporter against real receivers on loopback: rsyslogd (RFC 5424 over UDP, TCP and
TLS; we read back what it parsed) and an HTTP Event Collector with Splunk's semantics."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from shieldx.config import Settings
from shieldx.platform import migrations
from shieldx.platform.app import create_app
from shieldx.platform.context import build_context
from shieldx.platform.siem.service import SiemCollector, SiemExporter, build_exporter
from shieldx.platform.siem.settings import SiemSettings
from shieldx.testing.fixtures import need_tool
from shieldx.testing.live import LiveServer
from shieldx.testing.siem import HecReceiver, Rsyslog, parse_cef

TOKEN = "11111111-2222-3333-4444-555555555555"
HONEY = {"token_id": "ht_9", "kind": "api_key", "location": "api_key", "source": "203.0.113.7"}


@pytest.fixture(scope="module")
def rsyslog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rsyslog]:
    """One rsyslogd for the module (each test reads only the records it caused)."""
    with Rsyslog(need_tool("rsyslogd", "rsyslog"), tmp_path_factory.mktemp("rsyslog")) as server:
        yield server


def _offer(*events: tuple[str, dict[str, Any]]) -> Callable[[SiemExporter], None]:
    def send(exporter: SiemExporter) -> None:
        for topic, payload in events:
            exporter.offer(topic, payload)

    return send


def _exporter(**siem: Any) -> SiemExporter:
    base: dict[str, Any] = {"flush_interval": "50ms", "retry_backoff": "10ms"}
    exporter = build_exporter(SiemSettings.model_validate(base | siem), version="9.9.9")
    assert exporter is not None
    return exporter


def _run(
    exporter: SiemExporter,
    send: Callable[[SiemExporter], None],
    until: Callable[[], bool] | None = None,
) -> None:
    """Start the exporter, offer events, wait for UNTIL, stop it (stop flushes the queue with
    one attempt per batch: retries happen while it runs)."""

    async def main() -> None:
        await exporter.start()
        send(exporter)
        if until is not None:
            await asyncio.to_thread(_wait, until, "the exporter")
        await exporter.stop()

    asyncio.run(main())


def _wait(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.mark.parametrize("protocol", ["udp", "tcp", "tls"])
def test_cef_over_syslog_reaches_rsyslog_parsed(rsyslog: Rsyslog, protocol: str) -> None:
    port = {"udp": rsyslog.udp_port, "tcp": rsyslog.tcp_port, "tls": rsyslog.tls_port}[protocol]
    exporter = _exporter(
        syslog={
            "host": "127.0.0.1",
            "port": port,
            "protocol": protocol,
            "format": "cef",
            "ca_file": str(rsyslog.cert),
            "server_name": "localhost",
        }
    )
    marker = f"reason-{protocol} = a|b \\ c"
    before = len(rsyslog.records())
    _run(
        exporter,
        _offer(
            ("honeytoken.used", HONEY),
            ("auth.failed", {"source": "192.0.2.5", "reason": marker}),
        ),
    )
    records = [r for r in rsyslog.wait_for(before + 2)[before:] if r["input"] == protocol]
    assert [r["msgid"] for r in records] == ["honeytoken.used", "auth.failed"]
    honey, auth = records
    assert honey["version"] == "1" and honey["app"] == "shieldx"
    assert (honey["facility"], honey["severity"]) == ("10", "2")  # authpriv, critical
    assert (auth["facility"], auth["severity"]) == ("10", "5")  # authpriv, notice (low)
    header, ext = parse_cef(honey["msg"])
    assert header[:6] == ["0", "ShieldX", "ShieldX", "9.9.9", "honeytoken.used", "Honeytoken used"]
    assert header[6] == "10" and ext["src"] == "203.0.113.7"
    _, ext = parse_cef(auth["msg"])
    assert ext["msg"] == f"API key refused: {marker}"
    assert exporter.destinations[0].sent == 2


def test_ecs_json_over_tls_syslog(rsyslog: Rsyslog) -> None:
    exporter = _exporter(
        syslog={
            "host": "127.0.0.1",
            "port": rsyslog.tls_port,
            "protocol": "tls",
            "format": "ecs",
            "ca_file": str(rsyslog.cert),
            "server_name": "localhost",
        }
    )
    before = len(rsyslog.records())
    _run(exporter, _offer(("compliance.alert.raised", {"subject": "TLS off", "id": "a1"})))
    (record,) = rsyslog.wait_for(before + 1)[before:]
    doc = json.loads(record["msg"])
    assert doc["event"]["kind"] == "alert" and doc["event"]["action"] == "compliance.alert.raised"
    assert doc["message"] == "Compliance alert: TLS off"
    assert doc["shieldx"]["id"] == "a1"


def test_tls_receiver_not_trusted_fails_and_counts(rsyslog: Rsyslog) -> None:
    exporter = _exporter(
        retries=1,
        syslog={"host": "127.0.0.1", "port": rsyslog.tls_port, "protocol": "tls"},
    )
    destination = exporter.destinations[0]
    _run(exporter, _offer(("honeytoken.used", HONEY)), until=lambda: destination.failed > 0)
    assert (destination.sent, destination.failed) == (0, 1)


def test_splunk_hec_batches_with_token_and_retries_when_busy() -> None:
    with HecReceiver(TOKEN) as hec:
        hec.busy = 2  # the next two POSTs answer 503 "Server is busy"
        exporter = _exporter(
            batch_size=50,
            flush_interval="200ms",
            splunk={"url": hec.url, "token": TOKEN, "index": "security"},
        )
        _run(
            exporter,
            _offer(*(("auth.failed", {"source": f"10.0.0.{i}"}) for i in range(20))),
            until=lambda: len(hec.events) == 20,
        )
        assert len(hec.events) == 20
        assert len(hec.requests) < 20 + 2  # batched: fewer POSTs than events
        assert all(r["authorization"] == f"Splunk {TOKEN}" for r in hec.requests)
        first = hec.events[0]
        assert first["index"] == "security" and first["sourcetype"] == "shieldx:security"
        assert first["event"]["source"]["ip"] == "10.0.0.0"
        assert exporter.destinations[0].sent == 20


def test_splunk_wrong_token_is_not_retried_and_never_logged(
    capsys: pytest.CaptureFixture[str],
) -> None:
    wrong = "99999999-wrong-token-9999"
    with HecReceiver(TOKEN) as hec:
        exporter = _exporter(retries=5, splunk={"url": hec.url, "token": wrong})
        _run(exporter, _offer(("honeytoken.used", HONEY)))
        assert len(hec.requests) == 1  # 403 "Invalid token": retrying cannot help
    assert exporter.destinations[0].failed == 1
    captured = capsys.readouterr()
    assert wrong not in captured.out + captured.err


def test_full_queue_drops_and_counts_in_metrics() -> None:
    with HecReceiver(TOKEN) as hec:
        exporter = _exporter(max_queue=3, splunk={"url": hec.url, "token": TOKEN})
        for i in range(10):  # not started: nothing drains the queue
            exporter.offer("auth.failed", {"source": f"10.0.0.{i}"})
        registry = CollectorRegistry()
        registry.register(SiemCollector(exporter))
        sample = registry.get_sample_value
        labels = {"destination": "splunk"}
        assert sample("siem_events_total", labels | {"result": "dropped"}) == 7
        assert sample("siem_queue_depth", labels) == 3
        _run(exporter, _offer())
        assert sample("siem_events_total", labels | {"result": "sent"}) == 3
        assert len(hec.events) == 3


def test_unreachable_receiver_fails_after_retries_without_blocking_publishers() -> None:
    exporter = _exporter(retries=2, splunk={"url": "http://127.0.0.1:9", "token": TOKEN})
    destination = exporter.destinations[0]
    began = time.monotonic()
    _run(exporter, _offer(("honeytoken.used", HONEY)), until=lambda: destination.failed > 0)
    assert (destination.sent, destination.failed) == (0, 1)
    assert time.monotonic() - began < 30  # stop() is bounded, not the test of speed


def test_events_filter_exports_only_the_chosen_ids() -> None:
    with HecReceiver(TOKEN) as hec:
        exporter = _exporter(events=["honeytoken.used"], splunk={"url": hec.url, "token": TOKEN})
        _run(exporter, _offer(("auth.failed", {}), ("honeytoken.used", HONEY)))
        assert [ev["event"]["event"]["action"] for ev in hec.events] == ["honeytoken.used"]


def test_a_refused_api_key_reaches_the_siem_from_a_live_service(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    with HecReceiver(TOKEN) as hec:
        settings = make_settings(
            siem={"flush_interval": "50ms", "splunk": {"url": hec.url, "token": TOKEN}}
        )
        ctx = build_context(settings)
        migrations.upgrade(ctx.db)
        try:
            with LiveServer(create_app(ctx, "credits")) as server:
                bad = "shx_0123456789ab_" + "B" * 43
                answer = httpx.get(
                    server.url + "/whoami", headers={"Authorization": f"Bearer {bad}"}
                )
                assert answer.status_code == 401
                _wait(lambda: len(hec.events) >= 1, "the auth.failed event at the collector")
                metrics = httpx.get(server.url + "/metrics").text
        finally:
            ctx.close()
    event = hec.events[0]["event"]
    assert event["event"]["action"] == "auth.failed"
    assert event["event"]["outcome"] == "failure"
    assert event["source"]["ip"] == "127.0.0.1"
    assert bad not in json.dumps(hec.events)
    assert 'siem_events_total{destination="splunk",result="sent"} 1.0' in metrics
