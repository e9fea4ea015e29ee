"""Read the framework files: the built-in ones, then those of compliance.frameworks_dir."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import yaml

from shieldx.compliance.frameworks.domain import Framework, FrameworkError, parse_framework

BUILT_IN_DIR = Path(__file__).resolve().parent / "data"


def load_file(path: Path, *, known_checks: Collection[str]) -> Framework:
    """One framework file; FrameworkError names the file and each problem in it."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FrameworkError(str(path), [f"cannot read ({exc.strerror})"]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise FrameworkError(str(path), [f"not valid YAML{where}"]) from exc
    return parse_framework(data, source=str(path), known_checks=known_checks)


def load_frameworks(
    *, enabled: Collection[str], extra_dir: Path | None, known_checks: Collection[str]
) -> list[Framework]:
    """The ENABLED frameworks, in that order; a later file with the same id replaces an earlier."""
    dirs = [BUILT_IN_DIR, *([extra_dir] if extra_dir is not None else [])]
    found: dict[str, Framework] = {}
    for directory in dirs:
        if not directory.is_dir():
            raise FrameworkError(str(directory), ["compliance.frameworks_dir is not a directory"])
        for path in sorted(directory.glob("*.yaml")):
            framework = load_file(path, known_checks=known_checks)
            found[framework.id] = framework
    missing = [name for name in enabled if name not in found]
    if missing:
        raise FrameworkError(
            "compliance.enabled_frameworks",
            [f"no framework file defines {missing}; available: {', '.join(sorted(found))}"],
        )
    return [found[name] for name in enabled]
