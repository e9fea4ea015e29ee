"""One two-region lab (etcd + two Patroni members) shared by every test in tests/dr (it is
expensive: ~10 s to start); tests that change its mode or kill a member leave it healthy."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from shieldx.dr.lab import service
from shieldx.testing.fixtures import need_tool


@pytest.fixture(scope="session")
def dr_lab() -> Iterator[service.Lab]:
    """A running lab in sync mode; torn down at the end of the session."""
    need_tool("patroni")
    need_tool("etcd", "etcd-server")
    directory = Path(tempfile.mkdtemp(prefix="shieldx-dr-test-"))
    directory.chmod(0o755)  # the postgres user runs the members inside it
    lab = service.up(directory / "lab", mode="sync")
    try:
        yield lab
    finally:
        service.down(directory / "lab")
        directory.rmdir()


@pytest.fixture
def lab(dr_lab: service.Lab) -> Iterator[service.Lab]:
    """The shared lab, healthy and in sync mode before and after the test."""
    dr_lab.wait_healthy()
    yield dr_lab
    dr_lab.heal()
    dr_lab.wait_healthy()
    if dr_lab.mode != "sync":
        dr_lab.set_mode("sync")
    dr_lab.wait_healthy()
