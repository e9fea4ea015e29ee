from __future__ import annotations

from shieldx.shadow.bench.inprocess import run_benchmark


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
