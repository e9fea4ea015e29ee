"""Process and resource faults on real processes: kill, stop with a dead-man resume, bounded
pressure helpers that end by themselves."""

from __future__ import annotations

import importlib.util
import subprocess
import time
from pathlib import Path

import pytest

from shieldx.chaos.faults import process, resources


def _state(pid: int) -> str:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2]


def _wait_for(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


def test_stop_is_resumed_by_the_dead_man_helper() -> None:
    target = subprocess.Popen(["sleep", "30"])
    try:
        stopped = process.stop(target.pid, ttl_s=0.5)
        _wait_for(lambda: _state(target.pid) == "T", timeout=0.4)
        # Nobody calls resume(): the detached helper sends SIGCONT when the TTL runs out.
        _wait_for(lambda: _state(target.pid) != "T")
        stopped.helper.wait(5)
    finally:
        target.kill()
        target.wait()


def test_kill_and_refusals() -> None:
    target = subprocess.Popen(["sleep", "30"])
    assert process.resolve("", target.pid) == target.pid
    process.kill(target.pid)
    assert target.wait(5) == -9
    with pytest.raises(process.ProcessNotFound, match="init or this server"):
        process.resolve("", 1)
    with pytest.raises(process.ProcessNotFound, match="no credits commit process"):
        process.resolve("credits-commit", 0)


def test_pressure_helper_ends_by_itself() -> None:
    helper = resources.start("cpu", seconds=0.5, amount=1, duty_percent=20)
    assert helper.process.wait(10) != 0  # ended by its own SIGALRM
    memory = resources.start("memory", seconds=0.5, amount=8)
    assert memory.process.wait(10) != 0


def test_pressure_helper_stops_on_rollback() -> None:
    helper = resources.start("cpu", seconds=30, amount=2, duty_percent=10)
    began = time.monotonic()
    helper.stop()
    assert time.monotonic() - began < 2 and helper.process.returncode is not None


def test_the_commit_module_chaos_looks_for_is_the_one_credits_starts() -> None:
    """Chaos names the credits commit process by module (it may not import credits)."""
    from shieldx.chaos.faults.process import COMMIT_MODULE
    from shieldx.credits.writer import pipe

    assert importlib.util.find_spec(COMMIT_MODULE) is not None
    assert f'"{COMMIT_MODULE}"' in Path(pipe.__file__).read_text()
