"""The pure parts: replication modes in Patroni's terms, reconciliation, steps."""

from __future__ import annotations

from shieldx.dr.drills.domain import reconcile, steps_from
from shieldx.dr.lab.domain import replication_dcs


def test_modes_map_to_patroni() -> None:
    assert replication_dcs("sync") == {
        "synchronous_mode": True,
        "postgresql": {"parameters": {"synchronous_commit": "on"}},
    }
    assert replication_dcs("semi_sync")["postgresql"]["parameters"]["synchronous_commit"] == (
        "remote_write"
    )
    assert replication_dcs("async")["synchronous_mode"] is False


def test_reconcile_counts_missing_duplicated_and_unacknowledged() -> None:
    result = reconcile({"a", "b", "c"}, {"a": 1, "b": 2, "d": 1}, {"a", "b", "c", "d", "e"})
    assert result.acknowledged == 3
    assert result.missing == ["c"]
    assert result.duplicated == ["b"]
    assert result.unacknowledged_present == 1


def test_steps_last_from_the_previous_mark_and_skip_missing_ones() -> None:
    steps = steps_from([("kill", 0.0), ("detect", 0.5), ("promote", None), ("route", 3.0)])
    assert [(s.name, s.at, s.duration_s) for s in steps] == [
        ("kill", 0.0, 0.0),
        ("detect", 0.5, 0.5),
        ("route", 3.0, 2.5),
    ]
