"""`shieldx shadow corpus|replay|sample-rules`, run as real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner, Result

from shieldx.cli import app
from shieldx.platform import migrations
from shieldx.platform.db import create_database
from shieldx.shadow.bench.http import wrk_script
from shieldx.shadow.rules.domain import Action, ErrorPolicy, Rule
from shieldx.shadow.rules.store import RuleSetStore
from shieldx.testing.fixtures import settings_for_test


def shieldx(
    *args: str, data_dir: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SHIELDX_")}
    env = {**clean, "SHIELDX_DATA_DIR": str(data_dir), "SHIELDX_LOGGING_LEVEL": "warning"}
    return subprocess.run(
        [sys.executable, "-m", "shieldx", *args],
        capture_output=True, text=True, env=env, timeout=120, check=False, input=stdin,
    )  # fmt: skip


def invoke(*args: str, stdin: str | None = None) -> Result:
    """The same command in-process (typer's runner), where a subprocess adds nothing."""
    return CliRunner().invoke(app, list(args), input=stdin)


def test_replay_is_deterministic_and_diffs_against_a_stored_rule_set(tmp_path: Path) -> None:
    traffic = tmp_path / "traffic.jsonl"
    made = shieldx(
        "shadow",
        "corpus",
        "--count",
        "400",
        "--seed",
        "3",
        "--out",
        str(traffic),
        data_dir=tmp_path,
    )
    assert made.returncode == 0, made.stderr
    lines = traffic.read_text().splitlines()
    assert len(lines) == 400 and {json.loads(x)["label"] for x in lines} == {"benign", "malicious"}

    db = create_database(settings_for_test(tmp_path))  # the database the CLI will open
    migrations.upgrade(db)
    strict = [Rule("everything-posted", 'method == "POST"', Action.BLOCK)]
    RuleSetStore(db).insert_next(tenant="acme", name="strict", on_error=ErrorPolicy.FAIL_OPEN,
                                 rules=strict, created_by="k", now=datetime.now(UTC))  # fmt: skip
    db.dispose()

    args = (
        "shadow",
        "replay",
        str(traffic),
        "--candidate",
        "strict@1",
        "--tenant",
        "acme",
        "--json",
    )
    runs = [shieldx(*args, data_dir=tmp_path) for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr
    assert runs[0].stdout == runs[1].stdout  # byte for byte
    report = json.loads(runs[0].stdout)
    assert report["ruleset"] == "sample-waf@1" and report["candidate"] == "strict@1"
    assert report["evaluated_at"] == "2024-06-01T00:00:00+00:00"
    assert report["input"]["records"] == 400 == sum(report["actions"].values())
    posts = sum(1 for x in lines if json.loads(x)["method"] == "POST")
    matrix = report["diff"]["matrix"]
    assert sum(row["block"] for row in matrix.values()) == posts
    counts = report["counts"]
    assert (
        counts["true_positives"]
        + counts["false_negatives"]
        + counts["true_negatives"]
        + counts["false_positives"]
        == 400
    )

    rules = tmp_path / "rules.yaml"
    rules.write_text('name: tiny\nrules:\n  - id: posts\n    expression: method == "POST"\n')
    piped = invoke(
        "shadow", "replay", "-", "--rules", str(rules), "--json", stdin=traffic.read_text()
    )
    assert piped.exit_code == 0, piped.output
    assert json.loads(piped.stdout)["actions"]["block"] == posts
    text = invoke("shadow", "replay", str(traffic))
    assert "replayed 400 records against sample-waf@1" in text.stdout


def test_replay_names_what_is_wrong(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"path": "/"}\n{"ip": "nope"}\n')
    failed = invoke("shadow", "replay", str(bad))
    assert failed.exit_code == 2 and "line 2: ip must be" in failed.stderr
    rules = tmp_path / "rules.json"
    rules.write_text('{"rules": [{"id": "r", "expression": "pth == 1"}]}')
    good = tmp_path / "good.jsonl"
    good.write_text('{"path": "/"}\n')
    refused = invoke("shadow", "replay", str(good), "--rules", str(rules))
    assert refused.exit_code == 2 and "rule 'r' at 1:1: unknown identifier 'pth'" in refused.stderr
    missing = invoke("shadow", "replay", str(good), "--ruleset", "waf@1")
    assert missing.exit_code == 2 and "--tenant" in missing.stderr


def test_the_sample_rules_and_the_wrk_script_are_ready_to_use(tmp_path: Path) -> None:
    printed = invoke("shadow", "sample-rules")
    body = json.loads(printed.stdout)
    assert body["name"] == "sample-waf" and len(body["rules"]) == 50
    script = wrk_script([b'{"path": "/a"}', b'{"path": "/b"}'], "shx_key")
    assert script.count("[==[") == 2 and 'wrk.headers["Authorization"] = "Bearer shx_key"' in script
