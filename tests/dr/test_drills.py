"""Real failovers under a real credits load: SIGKILL of the primary PostgreSQL, or of its
whole region (Patroni and PostgreSQL), in each replication mode; then reconcile the
client's acknowledged operations against the ledger."""

from __future__ import annotations

import pytest

from shieldx.dr.drills.service import run_drill
from shieldx.dr.lab.service import Lab


@pytest.mark.parametrize("kill", ["postmaster", "region"])
def test_sync_mode_loses_no_acknowledged_operation(lab: Lab, kill: str) -> None:
    report = run_drill(lab, kill=kill, threads=3, warmup_s=1.0, after_s=1.0)  # type: ignore[arg-type]
    doc = report.as_dict()
    assert doc["acknowledged_ops"] > doc["acknowledged_before_kill"] > 0, doc
    assert doc["rpo_ops"] == 0, doc
    assert doc["duplicated_ops"] == 0, doc
    assert doc["ledger_verified"] is True, doc
    assert doc["new_primary"] != doc["old_primary"], doc
    assert doc["rto_s"] is not None, doc
    assert [s["name"] for s in doc["steps"]] == [
        "kill", "detect", "promote", "route", "rejoin", "confirm"
    ]  # fmt: skip


@pytest.mark.parametrize("mode", ["semi_sync", "async"])
def test_other_modes_report_rpo_exactly_and_apply_nothing_twice(lab: Lab, mode: str) -> None:
    lab.set_mode(mode)  # type: ignore[arg-type]
    lab.wait_healthy()
    report = run_drill(lab, kill="postmaster", threads=3, warmup_s=1.0, after_s=1.0)
    doc = report.as_dict()
    assert doc["mode"] == mode
    # RPO is counted, not estimated: each missing key is named.
    assert doc["rpo_ops"] == len(doc["missing_keys"]) or doc["rpo_ops"] > 20, doc
    assert doc["duplicated_ops"] == 0, doc
    assert doc["ledger_verified"] is True, doc
