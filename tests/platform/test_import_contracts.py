"""The import contracts in pyproject.toml ([tool.importlinter]) hold: `lint-imports` passes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = (
    "platform imports no service",
    "no service imports another",
    "services and platform do not import the top-level composition",
    "product code imports no test support",
    "domain modules import no framework, database or platform",
    "layers inside each service",
)


def test_every_import_contract_is_kept() -> None:
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint_imports, "lint-imports is missing: pip install -e '.[dev]'"
    env = os.environ | {"PYTHONPATH": str(REPO_ROOT / "src")}
    result = subprocess.run(
        [lint_imports, "--no-cache"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    for name in CONTRACTS:
        assert any(
            line.startswith(name) and " KEPT" in line for line in result.stdout.splitlines()
        ), name
    assert " 0 broken" in result.stdout
