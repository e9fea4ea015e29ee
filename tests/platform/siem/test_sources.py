"""Security events published by the services reach the SIEM: decoy recon (camouflage), a broken
ledger hash chain (credits audit), a compliance alert. Real services on loopback, a real
HTTP Event Collector stand-in as the receiver."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import httpx
import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from shieldx.camouflage.component import component as camouflage_component
from shieldx.camouflage.runtime import CamouflageService
from shieldx.compliance.alerts.service import AlertService
from shieldx.compliance.alerts.store import NewAlert
from shieldx.config import Settings
from shieldx.platform import migrations
from shieldx.platform.app import Component, create_app
from shieldx.platform.context import PlatformContext, build_context
from shieldx.platform.roles import Role
from shieldx.services import SERVICES
from shieldx.testing.live import LiveServer
from shieldx.testing.siem import HecReceiver

TOKEN = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


@pytest.fixture
def hec() -> Iterator[HecReceiver]:
    """A collector for the test."""
    with HecReceiver(TOKEN) as receiver:
        yield receiver


@pytest.fixture
def siem_ctx(
    hec: HecReceiver, make_settings: Callable[..., Settings]
) -> Iterator[Callable[..., PlatformContext]]:
    """Migrated contexts exporting to HEC, with extra settings sections."""
    made: list[PlatformContext] = []

    def make(**sections: Any) -> PlatformContext:
        siem = {"flush_interval": "50ms", "splunk": {"url": hec.url, "token": TOKEN}}
        ctx = build_context(make_settings(siem=siem, **sections))
        migrations.upgrade(ctx.db)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()


def _actions(hec: HecReceiver) -> list[str]:
    return [str(e["event"]["event"]["action"]) for e in hec.events]


def _wait_for(hec: HecReceiver, action: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        for record in hec.events:
            if record["event"]["event"]["action"] == action:
                event: dict[str, Any] = record["event"]
                return event
        if time.monotonic() > deadline:
            raise AssertionError(f"no {action} at the collector; got {_actions(hec)}")
        time.sleep(0.02)


def test_decoy_recon_reaches_the_siem(
    hec: HecReceiver, siem_ctx: Callable[..., PlatformContext]
) -> None:
    ctx = siem_ctx(
        camouflage={
            "decoys": [{"name": "web", "template": "nginx-1.22.1-debian", "port": 0}],
            "recording": {"flush_interval": "20ms"},
        }
    )
    holder: dict[str, CamouflageService] = {}

    def factory(c: PlatformContext, registry: CollectorRegistry) -> Component:
        built = camouflage_component(c, registry)
        holder["service"] = built.extra["service"]
        return built

    with LiveServer(create_app(ctx, "camouflage", factory)):
        port = holder["service"].ports["web"]
        httpx.get(
            f"http://127.0.0.1:{port}/.env?x=1",
            headers={"User-Agent": "sqlmap/1.7", "Authorization": "Bearer sekrit-from-attacker"},
        )
        event = _wait_for(hec, "camouflage.request")
    assert event["source"]["ip"] == "127.0.0.1"
    assert event["url"]["path"] == "/.env" and event["http"]["request"]["method"] == "GET"
    assert event["event"]["category"] == ["intrusion_detection"]
    assert "sekrit-from-attacker" not in str(hec.events)  # request headers are not exported


def test_a_broken_hash_chain_reaches_the_siem(
    hec: HecReceiver, siem_ctx: Callable[..., PlatformContext]
) -> None:
    ctx = siem_ctx()
    admin = ctx.api_keys.create(role=Role.ADMIN)[1]
    auth = {"Authorization": f"Bearer {admin}"}
    with LiveServer(create_app(ctx, "credits", SERVICES["credits"].factory())) as server:
        httpx.post(
            server.url + "/credits/purchase",
            json={"tenant": "t1", "account_id": "acct", "amount": 500},
            headers={**auth, "Idempotency-Key": "p1"},
        ).raise_for_status()
        with ctx.db.write() as conn:
            position = conn.execute(sa.text("SELECT max(position) FROM event_store")).scalar_one()
            conn.execute(
                sa.text("UPDATE event_store SET amount = amount + 1 WHERE position = :p"),
                {"p": position},
            )
        answer = httpx.post(server.url + "/credits/audit/verify", json={}, headers=auth)
        assert answer.status_code == 200 and answer.json()["ok"] is False
        event = _wait_for(hec, "credits.audit.chain_broken")
        metrics = httpx.get(server.url + "/metrics").text
    assert "credits_audit_chain_broken 1.0" in metrics
    assert 'credits_audit_verifications_total{result="broken"} 1.0' in metrics
    assert event["event"]["kind"] == "alert" and event["event"]["outcome"] == "failure"
    assert event["shieldx"]["first_bad_position"] == position
    assert event["log"]["level"] == "critical"


def test_a_compliance_alert_reaches_the_siem(
    hec: HecReceiver, siem_ctx: Callable[..., PlatformContext]
) -> None:
    ctx = siem_ctx()
    holder: dict[str, AlertService] = {}
    factory = SERVICES["credits"].factory()

    def capture(c: PlatformContext, registry: CollectorRegistry) -> Component:
        built = factory(c, registry)
        holder["alerts"] = built.provides[AlertService]
        return built

    with LiveServer(create_app(ctx, "credits", capture)):
        alert = NewAlert(
            dedupe_key="test:1", severity="critical", subject="TLS is off", detail="listener x"
        )
        anyio.run(holder["alerts"].raise_alert, alert)
        event = _wait_for(hec, "compliance.alert.raised")
    assert event["message"] == "Compliance alert: TLS is off"
    assert event["log"]["level"] == "critical"
