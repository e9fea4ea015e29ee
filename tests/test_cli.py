"""The shieldx command line, run as a real subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

VERBS = ("up", "serve", "db", "keys", "config", "bench", "version")


def shieldx(
    *args: str, data_dir: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SHIELDX_")}
    return subprocess.run(
        [sys.executable, "-m", "shieldx", *args],
        capture_output=True,
        text=True,
        env={
            **clean,
            "SHIELDX_DATA_DIR": str(data_dir),
            "SHIELDX_LOGGING_LEVEL": "warning",
            **(env or {}),
        },
        timeout=120,
    )


def test_help_lists_every_verb(tmp_path: Path) -> None:
    result = shieldx("--help", data_dir=tmp_path)
    assert result.returncode == 0
    for verb in VERBS:
        assert f" {verb} " in result.stdout
    for group in ("db", "keys", "config", "bench"):
        sub = shieldx(group, "--help", data_dir=tmp_path)
        assert sub.returncode == 0 and "Commands" in sub.stdout


def test_version(tmp_path: Path) -> None:
    result = shieldx("version", data_dir=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("shieldx 0.")


def test_config_show_masks_secrets(tmp_path: Path) -> None:
    result = shieldx(
        "config", "show", "--json",
        data_dir=tmp_path,
        env={"SHIELDX_DATABASE_URL": "postgresql+psycopg://bob:hunter2@db/x"},
    )  # fmt: skip
    assert result.returncode == 0
    shown = json.loads(result.stdout)
    assert shown["database"]["url"] == "postgresql+psycopg://bob:***@db/x"
    assert "hunter2" not in result.stdout
    assert shown["event_sourcing"]["snapshot_interval"] == 100


def test_config_check_names_the_bad_key_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("sharding:\n  num_shards: 5000\nlocator:\n  colour: blue\n")
    result = shieldx("config", "check", str(bad), data_dir=tmp_path)
    assert result.returncode == 2
    assert "sharding.num_shards" in result.stderr and "5000" in result.stderr
    assert "locator.colour: unknown key" in result.stderr
    good = tmp_path / "good.yaml"
    good.write_text("sharding:\n  num_shards: 16\n")
    assert shieldx("config", "check", str(good), data_dir=tmp_path).returncode == 0


def test_config_reference_covers_every_key(tmp_path: Path) -> None:
    from shieldx.config import Settings, _leaf_paths

    result = shieldx("config", "reference", data_dir=tmp_path)
    assert result.returncode == 0
    for path in _leaf_paths(Settings):
        assert f"`{'.'.join(path)}`" in result.stdout


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    created = shieldx(
        "keys", "create", "--role", "operator", "--tenant", "acme", "--json", data_dir=tmp_path
    )
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)
    assert key["role"] == "operator" and key["tenant"] == "acme" and key["key"].startswith("shx_")
    listed = shieldx("keys", "list", "--json", data_dir=tmp_path)
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["id"] for r in rows] == [key["id"]]
    assert key["key"] not in listed.stdout
    assert shieldx("keys", "revoke", key["id"], data_dir=tmp_path).returncode == 0
    assert shieldx("keys", "list", "--json", data_dir=tmp_path).stdout.strip() == ""
    again = shieldx("keys", "revoke", key["id"], data_dir=tmp_path)
    assert again.returncode == 1 and "no active key" in again.stderr
    bad_role = shieldx("keys", "create", "--role", "root", data_dir=tmp_path)
    assert bad_role.returncode == 2


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_db_commands_on_both_backends(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    env = {}
    if backend == "postgres":
        env["SHIELDX_DATABASE_URL"] = request.getfixturevalue("postgres_url")
    up = shieldx("db", "upgrade", data_dir=tmp_path, env=env)
    assert up.returncode == 0, up.stderr
    current = shieldx("db", "current", data_dir=tmp_path, env=env)
    assert "platform_0004 (head)" in current.stdout
    refused = shieldx("db", "downgrade", "base", data_dir=tmp_path, env=env)
    assert refused.returncode == 1 and "api_keys" in refused.stderr  # drops tables: --yes
    down = shieldx("db", "downgrade", "base", "--yes", data_dir=tmp_path, env=env)
    assert down.returncode == 0, down.stderr
    assert (
        "base (no migrations applied)"
        in shieldx("db", "current", data_dir=tmp_path, env=env).stdout
    )
    history = shieldx("db", "history", data_dir=tmp_path, env=env)
    assert "platform_0001" in history.stdout


def test_serve_rejects_unknown_service(tmp_path: Path) -> None:
    result = shieldx("serve", "billing", data_dir=tmp_path)
    assert result.returncode == 2
    assert "unknown service 'billing'" in result.stderr


def test_an_error_message_quoting_input_is_printed_whole(tmp_path: Path) -> None:
    """fail() escapes Rich markup: "[bold]" typed by a user is shown, not swallowed."""
    result = shieldx("serve", "[bold]x[/bold]", data_dir=tmp_path)
    assert result.returncode == 2
    assert "error: unknown service '[bold]x[/bold]'" in result.stderr


def test_service_clis_load_without_the_top_level_cli() -> None:
    """No import cycle: each service's CLI module imports cli_options, never shieldx.cli."""
    probe = (
        "import sys, shieldx.credits.cli, shieldx.shadow.cli, shieldx.camouflage.cli,"
        " shieldx.locator.cli; print(sorted(m for m in sys.modules"
        " if m in ('shieldx.cli', 'shieldx.services')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def _command_paths() -> list[tuple[str, ...]]:
    import typer.main

    from shieldx.cli import app

    def walk(command: Any, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        yield path
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, (*path, name))

    return list(walk(typer.main.get_command(app), ()))


def _help_texts(path: tuple[str, ...]) -> list[str]:
    """The command's own help and each option's help, as declared in the code."""
    import typer.main

    from shieldx.cli import app

    command: Any = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    texts = [command.help or ""]
    texts += [getattr(p, "help", None) or "" for p in command.params]
    return [t for t in texts if t]


@pytest.mark.parametrize("path", _command_paths(), ids=lambda p: " ".join(p) or "shieldx")
def test_every_help_works_and_shows_its_text_whole(path: tuple[str, ...]) -> None:
    from typer.testing import CliRunner

    from shieldx.cli import app

    result = CliRunner().invoke(app, [*path, "--help"], prog_name="shieldx")
    assert result.exit_code == 0, result.output
    shown = " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.output).split())
    # Rich markup once swallowed "[env SHIELDX_CONFIG]", leaving "YAML config file ."
    assert not re.search(r"\s[.,;:](\s|$)", shown), shown
    for text in _help_texts(path):
        for word in text.split():
            assert word in shown, f"{' '.join(path)} --help lost {word!r} of {text!r}"


def test_config_check_warns_that_a_key_has_no_effect(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("sharding:\n  rebalance_enabled: false\nserver:\n  host: 0.0.0.0\n")
    result = shieldx("config", "check", str(config), data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    warned = [line for line in result.stdout.splitlines() if "no effect" in line]
    assert warned == [
        "warning: sharding.rebalance_enabled: has no effect yet (online rebalancing is not "
        "built yet); it is ignored"
    ]
    clean = shieldx("config", "check", "/dev/null", data_dir=tmp_path)
    assert clean.returncode == 0 and "no effect" not in clean.stdout + clean.stderr


def test_first_start_on_a_terminal_prints_a_short_banner_and_logs_to_a_file(
    tmp_path: Path,
) -> None:
    import pty
    import signal

    from shieldx.platform.loadgen import free_port, read_banner

    data_dir = tmp_path / "data"
    ports = [f"--{name}-port={free_port()}" for name in ("credits", "shadow", "camouflage")]
    master, slave = pty.openpty()  # stderr is a terminal, as under `make up`
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SHIELDX_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "shieldx", "up", *ports, f"--locator-port={free_port()}"],
        stdout=subprocess.PIPE,
        stderr=slave,
        text=True,
        env={**clean, "SHIELDX_DATA_DIR": str(data_dir)},
    )
    os.close(slave)
    try:
        banner = read_banner(proc, timeout=60)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    terminal = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child's side is closed and everything was read
            break
        if not chunk:
            break
        terminal += chunk
    os.close(master)
    assert len(banner) <= 12, banner
    key_line = banner.index("Admin API key (shown once; store it now):")
    assert banner[key_line + 1].strip().startswith("shx_")
    assert any("shieldx keys create" in line for line in banner)
    log = data_dir / "shieldx.log"
    assert f"Logs: {log}" in banner
    assert terminal.decode(errors="replace").strip() == ""  # the logs went to the file
    logged = log.read_text()
    assert '"event":"server.started"' in logged and "Running upgrade" in logged
    assert banner[key_line + 1].strip() not in logged
