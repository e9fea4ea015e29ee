"""Assessments of a real running platform: each check looks at the real condition, and turns
non-compliant when that condition is broken for real (and back when it is repaired)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa

from shieldx.compliance import tables
from shieldx.platform.auth import api_keys
from shieldx.platform.roles import Role
from shieldx.testing.compliance import Running, check, control

PAN = "4111 1111 1111 1111"


def test_a_fresh_platform_is_judged_from_what_it_really_does(platform: Running) -> None:
    result = platform.assess()
    assert set(result["frameworks"]) == {"SOC2", "ISO27001", "GDPR", "PCI_DSS"}
    assert 0.0 <= result["overall"] < 100.0
    routes = check(result, "routes_require_key")
    assert routes["status"] == "compliant"
    assert routes["data"]["services"] == ["camouflage", "credits", "locator", "shadow"]
    assert routes["data"]["probed_operations"] > 50
    assert routes["data"]["answered_without_key"] == []
    # The listeners speak plain HTTP today: a real TLS client fails on each.
    tls = check(result, "listeners_tls")
    assert tls["status"] == "non_compliant"
    assert all(v.startswith("no TLS") for v in tls["data"]["listeners"].values())
    assert len(tls["data"]["listeners"]) == 4
    hashed = check(result, "api_keys_hashed")
    assert hashed["status"] == "compliant" and hashed["data"]["caller_key_found_by_hash"]
    assert check(result, "audit_chain_verifies")["status"] == "compliant"
    cc67 = control(result, "SOC2", "CC6.7")
    assert (cc67["status"], cc67["severity"]) == ("non_compliant", "high")
    # CC6.1's only failing check on a default install: admin operations need no second factor.
    cc61 = control(result, "SOC2", "CC6.1")
    failing = [e["check"] for e in cc61["evidence"] if e["status"] != "compliant"]
    assert (cc61["status"], failing) == ("non_compliant", ["admin_mfa_enforced"])
    plans = platform.client.get("/compliance/remediation").json()
    assert {(p["framework"], p["control_id"]) for p in plans} >= {("SOC2", "CC6.7")}
    metrics = httpx.get(platform.url("credits") + "/metrics").text
    assert 'compliance_score{framework="SOC2"}' in metrics
    assert 'compliance_controls_total{status="non_compliant"}' in metrics
    assert 'compliance_findings_total{severity="high"}' in metrics
    score = platform.client.get("/compliance/score").json()
    assert (
        score["overall"] == platform.client.get("/compliance/assessments/latest").json()["overall"]
    )


def test_a_card_number_stored_in_clear_fails_pci_3_4_until_removed(platform: Running) -> None:
    bought = platform.client.post(
        "/credits/purchase",
        json={
            "tenant": "t1",
            "account_id": "acct-pan",
            "amount": 100,
            "payment": {"provider": "stripe", "reference": "order 1", "card_token": "tok_1"},
        },
        headers={"Idempotency-Key": "pan-1"},
    )
    assert bought.status_code in (200, 201), bought.text
    # The API refuses a card number in a reference (tests/credits/ledger/test_api.py): plant
    # one as a row written before that check, or by hand, would be.
    with platform.ctx.db.write() as conn:
        conn.execute(sa.text("UPDATE credit_payments SET reference = :r"), {"r": f"order {PAN}"})
    result = platform.assess()
    pci = control(result, "PCI_DSS", "3.4")
    assert (pci["status"], pci["severity"]) == ("non_compliant", "critical")
    found = check(result, "no_clear_card_numbers")["data"]["found"]
    masked = "411111******1111"
    assert {"table": "credit_payments", "column": "reference", "pan": masked} in found
    # The command log seals the purchase's answer (which echoes the reference): not a finding.
    assert not [f for f in found if f["table"] == "command_log"]
    assert PAN.replace(" ", "") not in str(result)  # evidence shows the number masked only
    # The sealed details (card token) open with the keyring.
    assert check(result, "payments_sealed")["status"] == "compliant"
    with platform.ctx.db.write() as conn:
        conn.execute(sa.text("UPDATE credit_payments SET reference = 'order redacted'"))
    # The scan covers every table: a card number planted alone in one no service writes fails.
    with platform.ctx.db.write() as conn:
        conn.execute(sa.text("CREATE TABLE planted_notes (note TEXT)"))
        conn.execute(sa.text("INSERT INTO planted_notes (note) VALUES (:n)"), {"n": f"pan {PAN}"})
    planted = platform.assess()
    assert control(planted, "PCI_DSS", "3.4")["status"] == "non_compliant"
    assert check(planted, "no_clear_card_numbers")["data"]["found"] == [
        {"table": "planted_notes", "column": "note", "pan": masked}
    ]
    with platform.ctx.db.write() as conn:
        conn.execute(sa.text("DROP TABLE planted_notes"))
    again = platform.assess()
    assert control(again, "PCI_DSS", "3.4")["status"] == "compliant", check(
        again, "no_clear_card_numbers"
    )["data"]["found"]


def test_a_tampered_ledger_event_fails_the_audit_check(platform: Running) -> None:
    platform.client.post(
        "/credits/purchase",
        json={"tenant": "t1", "account_id": "acct-audit", "amount": 500},
        headers={"Idempotency-Key": "audit-1"},
    ).raise_for_status()
    with platform.ctx.db.write() as conn:
        position, amount = conn.execute(
            sa.text("SELECT position, amount FROM event_store ORDER BY position DESC LIMIT 1")
        ).one()
        conn.execute(
            sa.text("UPDATE event_store SET amount = :a WHERE position = :p"),
            {"a": amount + 1, "p": position},
        )
    try:
        result = platform.assess()
        audit = check(result, "audit_chain_verifies")
        assert audit["status"] == "non_compliant"
        assert audit["data"]["first_bad_position"] == position
        assert control(result, "PCI_DSS", "10.2")["status"] == "non_compliant"
    finally:
        with platform.ctx.db.write() as conn:
            conn.execute(
                sa.text("UPDATE event_store SET amount = :a WHERE position = :p"),
                {"a": amount, "p": position},
            )
    assert check(platform.assess(), "audit_chain_verifies")["status"] == "compliant"


def test_a_key_older_than_the_rotation_age_is_a_finding(platform: Running) -> None:
    key_id = platform.ctx.api_keys.create(role=Role.OPERATOR, name="old")[0].id
    with platform.ctx.db.write() as conn:
        conn.execute(
            api_keys.update()
            .where(api_keys.c.id == key_id)
            .values(created_at=datetime.now(UTC) - timedelta(days=91))
        )
    try:
        rotated = check(platform.assess(), "api_keys_rotated")
        assert rotated["status"] == "non_compliant"
        assert rotated["data"]["older_than_max"] == [key_id]
    finally:
        platform.ctx.api_keys.revoke(key_id)
    assert check(platform.assess(), "api_keys_rotated")["status"] == "compliant"


def test_the_evidence_chain_shows_an_edited_row(platform: Running) -> None:
    platform.assess()
    assert platform.client.get("/compliance/evidence/verify").json()["ok"] is True
    evidence = platform.client.get("/compliance/evidence").json()
    assert evidence and all(len(e["sha256"]) == 64 for e in evidence)
    target = evidence[0]["seq"]
    with platform.ctx.db.write() as conn:
        original = conn.execute(
            sa.select(tables.evidence.c.data).where(tables.evidence.c.seq == target)
        ).scalar_one()
        conn.execute(
            tables.evidence.update()
            .where(tables.evidence.c.seq == target)
            .values(data=original.replace("{", "{ ", 1))
        )
    try:
        broken = platform.client.get("/compliance/evidence/verify").json()
        assert (broken["ok"], broken["first_bad_seq"]) == (False, target)
    finally:
        with platform.ctx.db.write() as conn:
            conn.execute(
                tables.evidence.update()
                .where(tables.evidence.c.seq == target)
                .values(data=original)
            )
    assert platform.client.get("/compliance/evidence/verify").json()["ok"] is True


def test_auditors_read_but_do_not_assess_and_tenant_keys_are_refused(platform: Running) -> None:
    auditor = {"Authorization": f"Bearer {platform.key(Role.AUDITOR)}"}
    base = platform.url("credits")
    assert httpx.post(base + "/compliance/assessments", headers=auditor).status_code == 403
    assert httpx.get(base + "/compliance/score", headers=auditor).status_code == 200
    scoped = {"Authorization": f"Bearer {platform.key(Role.ADMIN, tenant='t1')}"}
    refused = httpx.get(base + "/compliance/score", headers=scoped)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert httpx.get(base + "/compliance/score").status_code == 401


def test_remediation_plans_are_tracked_through_the_api(platform: Running) -> None:
    platform.assess()
    plans = platform.client.get("/compliance/remediation").json()
    plan = next(p for p in plans if (p["framework"], p["control_id"]) == ("SOC2", "CC6.7"))
    assert (plan["state"], plan["owner"], plan["severity"]) == ("open", None, "high")
    changed = platform.client.patch(
        f"/compliance/remediation/{plan['id']}",
        json={"owner": "platform team", "state": "in_progress", "due_at": "2027-01-31T00:00:00Z"},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["owner"] == "platform team"
    assert changed.json()["due_at_us"] == 1_801_353_600_000_000
    # The next assessment finds the same control failing and keeps the same plan.
    platform.assess()
    again = [
        p
        for p in platform.client.get("/compliance/remediation").json()
        if p["control_id"] == "CC6.7" and p["framework"] == "SOC2"
    ]
    assert [p["id"] for p in again] == [plan["id"]]
    naive = platform.client.patch(
        f"/compliance/remediation/{plan['id']}", json={"due_at": "2027-01-31T00:00:00"}
    )
    assert naive.status_code == 422 and "time zone" in naive.json()["detail"]
    assert (
        platform.client.patch(f"/compliance/remediation/{plan['id']}", json={}).status_code == 422
    )
    missing = platform.client.patch("/compliance/remediation/nope", json={"state": "done"})
    assert missing.status_code == 404
