from __future__ import annotations

from shieldx.shadow.bench.inprocess import run_benchmark
from shieldx.shadow.bench.runtimes import RUNTIMES, runtimes_report


def test_benchmark_reports_every_engine() -> None:
    result = run_benchmark(decisions=1000, celpy_decisions=3, records=300)
    assert result["rules"] == 50
    assert isinstance(result["decisions_per_s"], float) and result["decisions_per_s"] > 0
    assert isinstance(result["p99_us"], float) and result["p99_us"] > 0
    engines = result["engines"]
    assert isinstance(engines, list)
    assert [e["engine"] for e in engines] == [
        "closures",
        "cel-python interpreted",
        "cel-python compiled",
    ]
    assert all(e["decisions"] > 0 for e in engines)


def test_the_maintained_cel_runtimes_run_the_sample_rules_as_ours_do() -> None:
    report = runtimes_report(decisions=5, records=300, agree_on=300)
    assert [r["engine"] for r in report] == list(RUNTIMES)
    for entry in report:
        assert "skipped" not in entry, entry  # both are dev dependencies
        assert entry["same_decisions"] == {"records": 300, "same": 300}, entry
        assert isinstance(entry["closures_ratio"], float)
