"""`shieldx synth fit | sample | quality --real` as real subprocesses on the shipped sample."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

SAMPLE = Path(__file__).parent / "data" / "customers.csv"


def shieldx(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SHIELDX_")}
    return subprocess.run(
        [sys.executable, "-m", "shieldx", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**clean, "SHIELDX_DATA_DIR": str(cwd)},
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("synth-cli")
    result = shieldx("synth", "fit", str(SAMPLE), "--output", "model.json", cwd=work)
    assert result.returncode == 0, result.stderr
    assert "learned 13 columns from 2000 rows" in result.stderr
    assert "income float" in result.stderr and "customer_id identifier" in result.stderr
    return work


def test_sample_writes_seeded_csv(fitted: Path) -> None:
    first = shieldx(
        "synth",
        "sample",
        "model.json",
        "--count",
        "300",
        "--seed",
        "4",
        "--output",
        "out.csv",
        cwd=fitted,
    )
    assert first.returncode == 0, first.stderr
    assert "wrote 300 rows to out.csv" in first.stderr
    rows = list(csv.reader(io.StringIO((fitted / "out.csv").read_text())))
    header = next(csv.reader(io.StringIO(SAMPLE.read_text())))
    assert rows[0] == header and len(rows) == 301
    again = shieldx("synth", "sample", "model.json", "-n", "300", "-s", "4", cwd=fitted)
    assert again.stdout == (fitted / "out.csv").read_text()
    other = shieldx("synth", "sample", "model.json", "-n", "300", "-s", "5", cwd=fitted)
    assert other.stdout != again.stdout


def test_quality_against_the_real_sample(fitted: Path) -> None:
    made = shieldx(
        "synth",
        "sample",
        "model.json",
        "--count",
        "1000",
        "--seed",
        "1",
        "--output",
        "big.csv",
        cwd=fitted,
    )
    assert made.returncode == 0, made.stderr
    result = shieldx(
        "synth", "quality", "--real", str(SAMPLE), "--synthetic", "big.csv", "--json", cwd=fitted
    )
    assert result.returncode == 0, result.stderr
    report = orjson.loads(result.stdout)
    assert report["quality"] >= 0.85
    assert report["column_shapes"] >= 0.93
    assert report["column_pair_trends"] >= 0.83
    privacy = report["privacy"]
    assert privacy["exact_copies"] == 0
    assert privacy["dcr_min"] > 0
    assert privacy["identifier_values_reused"] == 0
    assert privacy["columns_compared"] == 10  # identifiers and text are not compared
    text = shieldx("synth", "quality", "--real", str(SAMPLE), "--synthetic", "big.csv", cwd=fitted)
    assert text.returncode == 0 and "0 exact copies" in text.stdout


def test_the_sample_itself_has_only_copies(fitted: Path) -> None:
    (fitted / "part.csv").write_text("".join(SAMPLE.read_text().splitlines(keepends=True)[:501]))
    result = shieldx(
        "synth", "quality", "--real", "part.csv", "--synthetic", "part.csv", "--json", cwd=fitted
    )
    assert result.returncode == 0, result.stderr
    report = orjson.loads(result.stdout)
    assert report["privacy"]["exact_copies"] == 500 and report["privacy"]["dcr_min"] == 0
    assert report["quality"] > 0.99


def test_bad_input_is_refused_with_the_reason(fitted: Path) -> None:
    (fitted / "short.csv").write_text("a,b\n1,2\n")
    short = shieldx("synth", "fit", "short.csv", "-o", "m.json", cwd=fitted)
    assert short.returncode == 2 and "1 rows; at least 10" in short.stderr
    assert not (fitted / "m.json").exists()
    (fitted / "fake.json").write_text('{"format": "shieldx.synth.copula", "version": 1}')
    fake = shieldx("synth", "sample", "fake.json", cwd=fitted)
    assert fake.returncode == 2 and "model.rows is missing" in fake.stderr
    mixed = shieldx("synth", "quality", "--kind", "users", "--real", str(SAMPLE), cwd=fitted)
    assert mixed.returncode == 2 and "--real and --synthetic together" in mixed.stderr
    (fitted / "other.csv").write_text("x\n" + "1\n" * 12)
    other = shieldx(
        "synth", "quality", "--real", str(SAMPLE), "--synthetic", "other.csv", cwd=fitted
    )
    assert other.returncode == 2 and "same order" in other.stderr
    neither = shieldx("synth", "quality", cwd=fitted)
    assert neither.returncode == 2 and "give --kind" in neither.stderr


def test_bench_prints_rates_with_references(tmp_path: Path) -> None:
    result = shieldx(
        "bench", "synth", "--rows", "400", "--quality-rows", "300", "--json", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    report = orjson.loads(result.stdout)
    assert report["rows"] == 400 and report["columns"] == 13 and report["learned_columns"] == 10
    for part in ("fit", "sample", "fit_reference", "sample_reference"):
        assert report[part]["rows_per_s"] > 0
    assert report["fit_ratio"] > 0 and report["sample_ratio"] > 0
    assert 0 < report["quality"] <= 1
    assert report["privacy"]["exact_copies"] == 0 and report["privacy"]["rows_compared"] == 300
