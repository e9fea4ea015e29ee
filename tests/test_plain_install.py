"""A plain install (no dev extras) runs every command: product code never needs test support.

The venv is built once for this module (about a minute with pip's cache); every case below
runs in it, with PYTHONPATH cleared so that the installed wheel is what runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shieldx.testing.fixtures import need_tool

REPO_ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("plain_install")]

DEV_ONLY = ("pytest", "hypothesis", "schemathesis", "gbstats", "mypy")

# Walks the whole command tree in the installed package and asks each command for --help.
WALK_HELP = """
import json, typer
from typer.testing import CliRunner
from shieldx.cli import app

root = typer.main.get_command(app)
seen, failures = [], []

def walk(command, path):
    result = CliRunner().invoke(app, [*path, "--help"], prog_name="shieldx")
    seen.append(" ".join(path))
    if result.exit_code != 0 or "Usage:" not in result.output:
        failures.append({"command": path, "exit": result.exit_code,
                         "output": result.output[-800:], "exception": repr(result.exception)})
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        walk(sub, [*path, name])

walk(root, [])
print(json.dumps({"seen": seen, "failures": failures}))
"""


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "SHIELDX_"))}
    env["HOME"] = str(home)  # the data dir defaults to ./.shieldx: runs happen in `home`
    env.pop("VIRTUAL_ENV", None)
    return env


@pytest.fixture(scope="module")
def plain_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with `pip install <repo>` (runtime dependencies only), built once."""
    venv = tmp_path_factory.mktemp("plain-venv")
    home = tmp_path_factory.mktemp("home")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    # pip's own cache (not HOME's: that is a fresh directory) keeps reinstalls fast.
    env = _env(home) | {"PIP_CACHE_DIR": str(Path.home() / ".cache" / "pip")}
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(REPO_ROOT)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return venv


def _run(
    venv: Path, args: list[str], cwd: Path, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args if args[0].startswith("/") else [str(venv / "bin" / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=_env(cwd),
        timeout=timeout,
    )


def test_the_plain_install_has_no_dev_packages(plain_venv: Path, tmp_path: Path) -> None:
    """The premise of the other cases: none of the dev extra's packages is installed."""
    probe = "import importlib.util as u, sys; print([m for m in sys.argv[1:] if u.find_spec(m)])"
    result = _run(plain_venv, ["python", "-c", probe, *DEV_ONLY], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_shieldx_help_from_the_console_script(plain_venv: Path, tmp_path: Path) -> None:
    """`shieldx --help` through the installed entry point lists every command group."""
    result = _run(plain_venv, ["shieldx", "--help"], tmp_path)
    assert result.returncode == 0, result.stderr
    for group in ("up", "serve", "db", "keys", "config", "bench", "credits", "shadow", "synth"):
        assert f" {group} " in result.stdout, group


def test_every_command_and_subcommand_answers_help(plain_venv: Path, tmp_path: Path) -> None:
    """Each command's --help works on a plain install (no ModuleNotFoundError anywhere)."""
    result = _run(plain_venv, ["python", "-c", WALK_HELP], tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout)
    assert report["failures"] == []
    seen = set(report["seen"])
    expected = {"", "up", "db upgrade", "keys create", "config check", "bench http"}
    expected |= {f"bench {name}" for name in ("credits", "shadow", "camouflage", "locator")}
    expected |= {"credits verify", "shadow replay", "synth users", "locator keys list"}
    assert expected <= seen, expected - seen


RUNS = {
    "version": ["version"],
    "config reference": ["config", "reference"],
    "synth users": ["synth", "users", "-n", "3"],
    "db upgrade": ["db", "upgrade", "--data-dir", "data"],
    "keys create": ["keys", "create", "--role", "admin", "--json", "--data-dir", "data"],
}
BENCHES = {
    "credits": ["--accounts", "10", "--concurrency", "4", "--duration", "1"],
    "shadow": ["--decisions", "100", "--no-celpy"],
    "locator": ["--seconds", "0.2"],
    "camouflage": ["--duration", "1", "--min-requests", "1", "--connections", "2"],
    "http": ["--duration", "1", "--connections", "2"],
    "synth": ["--rows", "300", "--quality-rows", "200"],
}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_commands_run_on_a_plain_install(plain_venv: Path, tmp_path: Path, name: str) -> None:
    """Commands that import their heavy modules lazily still find them all."""
    result = _run(plain_venv, ["shieldx", *RUNS[name]], tmp_path)
    assert "ModuleNotFoundError" not in result.stderr
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.strip()


@pytest.mark.parametrize("bench", sorted(BENCHES))
def test_each_bench_smallest_run_on_a_plain_install(
    plain_venv: Path, tmp_path: Path, bench: str
) -> None:
    """`shieldx bench <name>` in its shortest mode prints its JSON report."""
    if bench in {"camouflage", "http"}:
        need_tool("wrk")
    args = ["shieldx", "bench", bench, *BENCHES[bench], "--json"]
    result = _run(plain_venv, args, tmp_path)
    assert "ModuleNotFoundError" not in result.stderr
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout)
    assert report["machine"]["cpus"] >= 1
    assert report.get("benchmark", bench) == bench


def test_synth_quality_names_the_extra_it_needs(plain_venv: Path, tmp_path: Path) -> None:
    """Without SDMetrics (an optional extra), `synth quality --real` says what to install."""
    rows = "".join(f"{i},{i % 4},{(i * 7) % 11}.5\n" for i in range(30))
    (tmp_path / "real.csv").write_text("id,group,value\n" + rows)
    fitted = _run(plain_venv, ["shieldx", "synth", "fit", "real.csv", "-o", "m.json"], tmp_path)
    assert fitted.returncode == 0, fitted.stderr[-4000:]
    made = _run(plain_venv, ["shieldx", "synth", "sample", "m.json", "-o", "s.csv"], tmp_path)
    assert made.returncode == 0, made.stderr[-4000:]
    args = ["shieldx", "synth", "quality", "--real", "real.csv", "--synthetic", "s.csv"]
    result = _run(plain_venv, args, tmp_path)
    assert result.returncode == 1
    assert "pip install 'shieldx[synth-quality]'" in result.stderr
