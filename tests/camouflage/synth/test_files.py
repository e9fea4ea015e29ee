"""Sample CSV files and model files: limits, and clear errors for anything unusable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from shieldx.camouflage.synth.fields import ModelError
from shieldx.camouflage.synth.files import (
    TableFileError,
    load_model,
    parse_table,
    read_table,
    save_model,
    write_table,
)
from shieldx.camouflage.synth.model import fit

ROWS = "".join(f"{i},{i % 3},x{i}\n" for i in range(12))


def test_csv_round_trip_keeps_quotes_and_empty_cells(tmp_path: Path) -> None:
    table = {"a": ["1", "", 'say "hi", twice'] * 4, "b": ["x\ny", "z", ""] * 4}
    path = tmp_path / "t.csv"
    write_table(table, path)
    assert read_table(path) == table


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("a,b\n1,2\n", "1 rows; at least 10"),
        ("a,,c\n" + ROWS, "column 2 has no name"),
        ("a,b,a\n" + ROWS, "repeats 'a'"),
        ("a,b,c\n" + ROWS + "1,2\n", "line 14: 2 fields, the header has 3"),
        ('a,b,c\n1,"2\n', "line"),
    ],
)
def test_bad_csv_is_refused(text: str, message: str) -> None:
    with pytest.raises(TableFileError, match=message):
        parse_table(text, name="sample.csv")


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(TableFileError, match="cannot read"):
        read_table(tmp_path / "missing.csv")
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"name\n" + "caf\xe9\n".encode("latin-1") * 12)
    with pytest.raises(TableFileError, match="not UTF-8"):
        read_table(latin)


@pytest.fixture(scope="module")
def model_dict() -> dict[str, Any]:
    table = {
        "n": [str(i * 3 % 17) for i in range(40)],
        "c": ["a", "b"] * 20,
        "t": [f"2024-01-{i % 28 + 1:02d}" for i in range(40)],
        "id": [f"K{i:04d}" for i in range(40)],
    }
    result: dict[str, Any] = fit(table).to_dict()
    return result


def test_model_file_round_trip(tmp_path: Path, model_dict: dict[str, Any]) -> None:
    from shieldx.camouflage.synth.model import model_from_dict

    path = tmp_path / "m.json"
    size = save_model(model_from_dict(model_dict), path)
    assert size == path.stat().st_size
    assert load_model(path).to_dict() == model_dict


def broken(model: dict[str, Any], path: list[str | int], value: object) -> dict[str, Any]:
    copy: Any = orjson.loads(orjson.dumps(model))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    result: dict[str, Any] = copy
    return result


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["format"], "pickle", "not a ShieldX synth model"),
        (["version"], 2, "version 2 is not supported"),
        (["rows"], 3, r"model.rows must be an integer in \[10,"),
        (["columns"], [], "model.columns must be a list of 1 to"),
        (["columns", 0, "type"], "blob", r"columns\[0\].type must be one of integer"),
        (["columns", 0, "nulls"], 1.5, r"columns\[0\].nulls must be a finite number"),
        (["columns", 0, "marginal", "kind"], "spline", "quantiles or discrete"),
        (["columns", 1, "marginal", "weights"], [1, -1], "finite number in"),
        (["columns", 1, "marginal", "weights"], [1], "must have 2 items"),
        (["columns", 1, "name"], "n", "must not repeat a column name"),
        (["columns", 2, "datetime", "pattern"], "%s", "datetime: datetime pattern must be"),
        (["columns", 3, "shape", "kind"], "exec", "must be uuid, sequence, hex, pattern or text"),
        (["columns", 3, "extra"], 1, "unknown field"),
        (["correlation", 0, 1], 3.0, "entries in \\[-1, 1\\]"),
        (["correlation", 0], [1.0], "must be a list of 3 to 3 items"),
        (["fingerprints", "values"], "%%%", "fingerprints"),
        (["fingerprints", "salt"], "zz", "fingerprints"),
    ],
)
def test_bad_model_files_are_refused(
    tmp_path: Path, model_dict: dict[str, Any], path: list[str | int], value: object, message: str
) -> None:
    file = tmp_path / "bad.json"
    file.write_bytes(orjson.dumps(broken(model_dict, path, value)))
    with pytest.raises(ModelError, match=message):
        load_model(file)


def test_a_correlation_that_is_not_positive_definite_is_refused(
    tmp_path: Path, model_dict: dict[str, Any]
) -> None:
    k = len(model_dict["correlation"])
    assert k == 3
    bad = [[1.0, 0.99, -0.99], [0.99, 1.0, 0.99], [-0.99, 0.99, 1.0]]
    file = tmp_path / "bad.json"
    file.write_bytes(orjson.dumps(broken(model_dict, ["correlation"], bad)))
    with pytest.raises(ModelError, match="positive semi-definite"):
        load_model(file)


def test_files_that_are_not_models(tmp_path: Path) -> None:
    for name, data in (("a.json", b"\x80\x04pickle"), ("b.json", b"[1, 2]")):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ModelError, match=r"not a JSON model file|must be an object"):
            load_model(tmp_path / name)
    with pytest.raises(ModelError, match="cannot read"):
        load_model(tmp_path / "none.json")
