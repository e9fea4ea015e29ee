"""`shieldx bench shards` at a tiny size: the JSON's shape and sanity, not speed."""

from __future__ import annotations

from shieldx.credits.bench.shards import LAYOUTS, run_shards_bench


def test_the_report_has_every_figure_for_every_layout() -> None:
    report = run_shards_bench(
        backend="sqlite", accounts=40, concurrency=4, duration=0.3, database_url=None, quiet=True
    )
    assert [r["shards"] for r in report["results"]] == list(LAYOUTS)
    for result in report["results"]:
        assert result["writes_per_s"] > 0
        assert 0 < result["p50_ms"] <= result["p99_ms"]
    assert report["overhead_ratio"] > 0
    assert report["transfers"] > 0
    assert 0 < report["transfer_p50_ms"] <= report["transfer_p99_ms"]
    assert report["lookup_us"] > 0
    assert set(report["rebalance"]) >= {"accounts_moved", "accounts_per_s", "failed_requests"}
    assert report["rebalance"]["built"] is False
