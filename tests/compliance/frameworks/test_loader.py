"""Framework files: the built-in ones load; a broken file is refused with every problem named."""

from __future__ import annotations

from pathlib import Path

import pytest

from shieldx.compliance.checks.registry import CHECKS
from shieldx.compliance.frameworks.domain import FrameworkError
from shieldx.compliance.frameworks.loader import load_frameworks
from shieldx.compliance.settings import BUILT_IN_FRAMEWORKS


def test_the_built_in_frameworks_name_the_seed_controls() -> None:
    loaded = load_frameworks(enabled=BUILT_IN_FRAMEWORKS, extra_dir=None, known_checks=CHECKS)
    controls = {f.id: [c.id for c in f.controls] for f in loaded}
    assert controls == {
        "SOC2": ["CC6.1", "CC6.7", "CC7.2"],
        "ISO27001": ["A.9.1.2", "A.10.1.1"],
        "GDPR": ["Art.32", "Art.33"],
        "PCI_DSS": ["3.4", "10.2"],
    }
    used = {ref.check for f in loaded for c in f.controls for ref in c.checks}
    assert used == set(CHECKS)  # every check is used by some control


def test_a_user_adds_a_framework_with_a_file(tmp_path: Path) -> None:
    (tmp_path / "internal.yaml").write_text(
        "id: INTERNAL\ntitle: Our policy\nversion: '1'\ncontrols:\n"
        "  - id: P-1\n    title: Card data\n    recommendation: Remove it.\n"
        "    checks: [{check: no_clear_card_numbers, severity: high}]\n"
    )
    loaded = load_frameworks(enabled=["INTERNAL", "SOC2"], extra_dir=tmp_path, known_checks=CHECKS)
    assert [f.id for f in loaded] == ["INTERNAL", "SOC2"]


def test_a_broken_file_names_each_problem(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "id: BAD\ntitle: Bad\nextra: 1\ncontrols:\n"
        "  - id: X\n    title: T\n    recommendation: R\n"
        "    checks: [{check: mfa_enforced, severity: urgent}, {check: listeners_tls, "
        "severity: high, params: 3}]\n"
        "  - id: X\n    title: T\n    recommendation: R\n    checks: []\n"
    )
    with pytest.raises(FrameworkError) as caught:
        load_frameworks(enabled=["BAD"], extra_dir=tmp_path, known_checks=CHECKS)
    problems = caught.value.problems
    assert caught.value.source == str(tmp_path / "bad.yaml")
    assert any("unknown key(s) ['extra']" in p for p in problems)
    assert any("unknown check 'mfa_enforced'" in p and "listeners_tls" in p for p in problems)
    assert any("controls[1] (X).checks[1]: severity must be one of" in p for p in problems)
    assert any("'params' must be a mapping" in p for p in problems)
    assert any("control id 'X' appears twice" in p for p in problems)
    assert any("controls[2] (X): 'checks' must be a non-empty list" in p for p in problems)


def test_an_enabled_framework_without_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("id: [unclosed\n")
    with pytest.raises(FrameworkError, match="not valid YAML at line 2"):
        load_frameworks(enabled=["SOC2"], extra_dir=tmp_path, known_checks=CHECKS)
    with pytest.raises(FrameworkError, match=r"no framework file defines \['HIPAA'\]; available"):
        load_frameworks(enabled=["HIPAA"], extra_dir=None, known_checks=CHECKS)
