"""Writers: stable columns, lossless JSON lines, RFC 4180 CSV, progress, byte-identical runs."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import orjson
import pytest

from shieldx.camouflage.synth.base import Record
from shieldx.camouflage.synth.synthesizer import Synthesizer, columns_of, synth_records
from shieldx.camouflage.synth.writers import (
    Format,
    csv_row,
    open_output,
    write_csv,
    write_jsonl,
    write_records,
    write_synth,
)

SYNTH = Synthesizer()


def test_jsonl_round_trips(tmp_path: Path) -> None:
    records = synth_records("traffic", seed=1, count=300, synthesizer=SYNTH)
    out = io.BytesIO()
    assert write_jsonl(records, out) == 300
    lines = out.getvalue().splitlines()
    assert [orjson.loads(line) for line in lines] == records
    assert list(orjson.loads(lines[0])) == list(columns_of("traffic"))


def test_csv_has_a_header_and_parses_back() -> None:
    records = synth_records("transactions", seed=2, count=500, synthesizer=SYNTH)
    out = io.BytesIO()
    write_csv(records, out, columns=columns_of("transactions"))
    rows = list(csv.DictReader(io.StringIO(out.getvalue().decode())))
    assert tuple(rows[0]) == columns_of("transactions")
    for record, row in zip(records, rows, strict=True):
        assert row["merchant"] == (record["merchant"] or "")
        assert int(row["amount_cents"]) == record["amount_cents"]
    assert any("," in str(r["merchant"]) for r in records if r["merchant"])


def test_csv_cells_for_null_and_booleans() -> None:
    assert csv_row([None, True, False, 0, 1.5, "x"]) == [None, "true", "false", 0, 1.5, "x"]
    out = io.BytesIO()
    record: Record = {"a": None, "b": True, "c": 'say "hi", ok'}
    write_csv([record], out, columns=["c", "b", "a"])
    assert out.getvalue() == b'c,b,a\n"say ""hi"", ok",true,\n'


def test_progress_reports_batches_that_sum_to_the_count() -> None:
    seen: list[int] = []
    records = SYNTH.records("traffic", seed=3, count=10_000)
    write_records(
        records, io.BytesIO(), fmt="csv", columns=columns_of("traffic"), progress=seen.append
    )
    assert sum(seen) == 10_000 and len(seen) == 3


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_files_are_byte_identical_for_a_seed(tmp_path: Path, fmt: Format) -> None:
    one, two, other = tmp_path / "one", tmp_path / "two", tmp_path / "other"
    assert write_synth("users", seed=9, count=2_000, fmt=fmt, path=one, synthesizer=SYNTH) == 2_000
    write_synth("users", seed=9, count=2_000, fmt=fmt, path=two)
    write_synth("users", seed=10, count=2_000, fmt=fmt, path=other, synthesizer=SYNTH)
    assert one.read_bytes() == two.read_bytes() != other.read_bytes()


def test_standard_output(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    write_synth("traffic", seed=4, count=3, path=None, synthesizer=SYNTH)
    assert len(capsysbinary.readouterr().out.splitlines()) == 3
    with open_output("-") as stream:
        stream.write(b"x")
    assert capsysbinary.readouterr().out == b"x"


def test_bad_arguments_fail_before_a_file_is_made(tmp_path: Path) -> None:
    target = tmp_path / "never"
    with pytest.raises(ValueError, match="format must be one of jsonl, csv"):
        write_synth("users", seed=1, count=1, fmt="xml", path=target)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seed must be"):
        write_synth("users", seed=-1, count=1, path=target, synthesizer=SYNTH)
    with pytest.raises(ValueError, match="kind must be"):
        write_synth("robots", seed=1, count=1, path=target, synthesizer=SYNTH)
    assert not target.exists()
    with pytest.raises(ValueError, match="format must be"):
        write_records([], io.BytesIO(), fmt="xml", columns=[])  # type: ignore[arg-type]
