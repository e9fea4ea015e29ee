"""Alerts (honeytoken use → alert → signed webhook and syslog, acknowledgement, escalation),
reports in every format (OSCAL validated by compliance-trestle) and the CLI, against a real
running platform."""

from __future__ import annotations

import csv
import email
import hashlib
import hmac
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from PIL import Image
from trestle.oscal.assessment_results import AssessmentResults

from shieldx.platform.roles import Role
from shieldx.testing.compliance import WEBHOOK_SECRET, Running, check
from shieldx.testing.fixtures import need_tool

REPO = Path(__file__).resolve().parents[2]


def _until(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def _alert(platform: Running, key: str) -> dict[str, Any] | None:
    rows = platform.client.get("/compliance/alerts").json()
    return next((r for r in rows if r["dedupe_key"] == key), None)


def test_a_honeytoken_use_raises_an_alert_at_once_on_every_channel(platform: Running) -> None:
    token = "shx_0123456789ab_" + "h" * 43
    platform.ctx.honeytokens.plant(token=token, kind="api_key")
    refused = httpx.get(
        platform.url("locator") + "/whoami", headers={"Authorization": f"Bearer {token}"}
    )
    assert refused.status_code == 401
    rows = _until(
        lambda: [
            r
            for r in platform.client.get("/compliance/alerts").json()
            if r["dedupe_key"].startswith("honeytoken:")
        ]
    )
    alert = rows[0]
    assert alert["severity"] == "critical"
    assert alert["deadline_at_us"] - alert["created_at_us"] <= 72 * 3600 * 1_000_000
    # The webhook is signed: HMAC-SHA256(secret, "<t>.<body>"), recomputed here.
    headers, body = _until(
        lambda: next(
            (w for w in platform.receivers.webhooks if json.loads(w[1])["id"] == alert["id"]),
            None,
        )
    )
    parts = dict(item.split("=", 1) for item in headers["shieldx-signature"].split(","))
    expected = hmac.new(
        WEBHOOK_SECRET.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)
    assert json.loads(body)["event"] == "compliance.alert.raised"
    line = _until(
        lambda: next((s for s in platform.receivers.syslog if alert["id"].encode() in s), None)
    )
    assert line.startswith(b"<106>1 ")  # facility 13 (log audit) x 8 + severity 2 (critical)
    mail = _until(
        lambda: next((m for m in platform.receivers.mail if alert["id"].encode() in m), None)
    )
    parsed = email.message_from_bytes(mail)
    assert parsed["To"] == "security@example.com"
    assert parsed["Subject"].startswith("[ShieldX critical alert] honeytoken used")
    # Acknowledged in time: the GDPR Art. 33 check is met, and the alert never escalates.
    auditor = {"Authorization": f"Bearer {platform.key(Role.AUDITOR)}"}
    ack_path = f"/compliance/alerts/{alert['id']}/acknowledge"
    assert httpx.post(platform.url("credits") + ack_path, headers=auditor).status_code == 403
    acked = platform.client.post(ack_path)
    assert acked.status_code == 200 and acked.json()["acknowledged_at_us"] is not None
    result = platform.assess()
    assert check(result, "honeytoken_hits_alerted")["status"] == "compliant"
    assert platform.client.post("/compliance/alerts/nope/acknowledge").status_code == 404


def test_an_unacknowledged_alert_escalates_once(platform: Running) -> None:
    # Findings of every failing control alert (the listeners have no TLS): leave them be.
    platform.assess()
    escalated = _until(
        lambda: [
            r
            for r in platform.client.get("/compliance/alerts").json()
            if r["escalated_at_us"] is not None and r["acknowledged_at_us"] is None
        ]
    )
    target = escalated[0]
    assert target["escalated_at_us"] - target["created_at_us"] >= 1_000_000
    _until(
        lambda: (
            "syslog.escalated"
            in (_alert(platform, target["dedupe_key"]) or {}).get("deliveries", {})
        )
    )
    events = [
        json.loads(b)["event"]
        for _, b in platform.receivers.webhooks
        if json.loads(b)["id"] == target["id"]
    ]
    assert events.count("compliance.alert.escalated") == 1


def test_reports_in_every_format(platform: Running, tmp_path: Path) -> None:
    result = platform.assess()
    oscal = platform.client.get("/compliance/reports/all", params={"format": "oscal"})
    doc = oscal.json()
    model = AssessmentResults.model_validate(doc["assessment-results"])
    findings = model.results[0].findings or []
    controls = sum(len(f["controls"]) for f in result["frameworks"].values())
    na = sum(
        1
        for f in result["frameworks"].values()
        for c in f["controls"]
        if c["status"] == "not_applicable"
    )
    assert len(findings) == controls - na
    states = {f.target.target_id: f.target.status.state.value for f in findings if f.target.status}
    assert states["soc2-cc6.7"] == "not-satisfied"
    html = platform.client.get("/compliance/reports/SOC2", params={"format": "html"})
    assert html.headers["content-type"].startswith("text/html")
    assert "<svg" in html.text and "score history" in html.text
    for item in result["frameworks"]["SOC2"]["controls"]:
        assert item["id"] in html.text
        for evidence in item["evidence"]:
            assert evidence["sha256"] in html.text
    assert "ISO27001" not in html.text  # one framework's report, its history included
    rows = list(
        csv.DictReader(
            io.StringIO(
                platform.client.get("/compliance/reports/PCI_DSS", params={"format": "csv"}).text
            )
        )
    )
    assert {r["framework"] for r in rows} == {"PCI_DSS"}
    assert {r["control"] for r in rows} == {"3.4", "10.2"}
    unknown = platform.client.get("/compliance/reports/HIPAA")
    assert unknown.status_code == 404 and "SOC2" in unknown.json()["detail"]


def test_the_pdf_report_prints_the_html_report(platform: Running, tmp_path: Path) -> None:
    platform.assess()
    # WeasyPrint's first render loads fonts and pango: seconds on a busy 2-core machine.
    answer = platform.client.get("/compliance/reports/SOC2", params={"format": "pdf"}, timeout=120)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    pdf = tmp_path / "soc2.pdf"
    pdf.write_bytes(answer.content)
    assert answer.content.startswith(b"%PDF-")
    # Page 1 as an image: it must hold the chart and text, not be blank.
    pdftoppm = need_tool("pdftoppm", "poppler-utils")
    subprocess.run(
        [pdftoppm, "-png", "-r", "40", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
        check=True,
        timeout=60,
    )
    (image,) = tmp_path.glob("page*.png")
    with Image.open(image) as page:
        histogram = page.convert("L").histogram()
        dark = sum(histogram[:200])  # pixels darker than light grey
        assert page.width > 200 and page.height > 200
        assert dark > 0.005 * page.width * page.height


def test_the_cli_assesses_and_writes_reports(platform: Running, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIELDX_")}
    port = platform.url("credits").rsplit(":", 1)[1]
    env |= {
        "SHIELDX_CREDITS_PORT": port,
        "SHIELDX_API_KEY": platform.admin_key,
        "PYTHONPATH": str(REPO / "src"),
    }

    def shieldx(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "shieldx", "compliance", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )

    assessed = shieldx("assess", "--json")
    assert assessed.returncode == 0, assessed.stderr
    out = json.loads(assessed.stdout)
    assert isinstance(out["overall"], float)
    assert set(out["frameworks"]) == {"SOC2", "ISO27001", "GDPR", "PCI_DSS"}
    first = out["frameworks"]["SOC2"]["controls"][0]
    assert {"id", "status", "evidence"} <= set(first) and first["evidence"]
    target = tmp_path / "pci.oscal.json"
    written = shieldx(
        "report", "--framework", "PCI_DSS", "--format", "oscal", "--output", str(target)
    )
    assert written.returncode == 0, written.stderr
    AssessmentResults.model_validate(json.loads(target.read_text())["assessment-results"])
    verified = shieldx("evidence", "verify")
    assert verified.returncode == 0 and json.loads(verified.stdout)["ok"] is True
    refused = subprocess.run(
        [sys.executable, "-m", "shieldx", "compliance", "score"],
        capture_output=True,
        text=True,
        env=env | {"SHIELDX_API_KEY": "shx_bad"},
        timeout=60,
        check=False,
    )
    assert refused.returncode == 1 and "401" in refused.stderr
