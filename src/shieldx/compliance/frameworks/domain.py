"""Frameworks, controls and the checks that decide them; parsing with errors that name the spot.

A framework file is a mapping: `id`, `title`, `version` and `controls`, a list of mappings
with `id`, `title`, `recommendation` and `checks`, each `{check: NAME, severity: LEVEL}` with
optional `params` (passed to the check). Every problem in a file is collected, not just the first.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("critical", "high", "medium", "low")


class FrameworkError(Exception):
    """A framework file cannot be used; the message lists each problem with its place."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: " + "; ".join(problems))
        self.source = source
        self.problems = problems


@dataclass(frozen=True)
class CheckRef:
    """A check a control runs, with the severity of its finding and its parameters."""

    check: str
    severity: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Control:
    """One control of a framework."""

    id: str
    title: str
    recommendation: str
    checks: tuple[CheckRef, ...]


@dataclass(frozen=True)
class Framework:
    """A framework and its controls."""

    id: str
    title: str
    version: str
    controls: tuple[Control, ...]


def _text(data: Mapping[str, Any], key: str, where: str, problems: list[str]) -> str:
    value = data.get(key)
    if not isinstance(value, str | int | float) or isinstance(value, bool) or str(value) == "":
        problems.append(f"{where}: '{key}' must be a non-empty string")
        return ""
    return str(value)


def parse_framework(data: Any, *, source: str, known_checks: Collection[str]) -> Framework:
    """Build a Framework from a parsed file; FrameworkError lists every problem."""
    problems: list[str] = []
    if not isinstance(data, Mapping):
        raise FrameworkError(source, ["the top level must be a mapping with id, title, controls"])
    unknown = set(data) - {"id", "title", "version", "controls"}
    if unknown:
        problems.append(f"unknown key(s) {sorted(unknown)}; allowed: id, title, version, controls")
    fid = _text(data, "id", "framework", problems)
    title = _text(data, "title", "framework", problems)
    version = str(data.get("version", ""))
    raw_controls = data.get("controls")
    controls: list[Control] = []
    if not isinstance(raw_controls, list) or not raw_controls:
        problems.append("'controls' must be a non-empty list")
        raw_controls = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_controls, start=1):
        where = f"controls[{index}]"
        if not isinstance(raw, Mapping):
            problems.append(f"{where}: must be a mapping with id, title, recommendation, checks")
            continue
        cid = _text(raw, "id", where, problems)
        if cid in seen:
            problems.append(f"{where}: control id {cid!r} appears twice")
        seen.add(cid)
        checks = _parse_checks(raw.get("checks"), f"{where} ({cid})", known_checks, problems)
        controls.append(
            Control(
                id=cid,
                title=_text(raw, "title", where, problems),
                recommendation=_text(raw, "recommendation", where, problems),
                checks=tuple(checks),
            )
        )
    if problems:
        raise FrameworkError(source, problems)
    return Framework(id=fid, title=title, version=version, controls=tuple(controls))


def _parse_checks(
    raw_checks: Any, where: str, known: Collection[str], problems: list[str]
) -> list[CheckRef]:
    if not isinstance(raw_checks, list) or not raw_checks:
        problems.append(f"{where}: 'checks' must be a non-empty list")
        return []
    checks = []
    for index, raw in enumerate(raw_checks, start=1):
        spot = f"{where}.checks[{index}]"
        if not isinstance(raw, Mapping):
            problems.append(f"{spot}: must be a mapping like {{check: NAME, severity: high}}")
            continue
        name = raw.get("check")
        if name not in known:
            problems.append(f"{spot}: unknown check {name!r}; known: {', '.join(sorted(known))}")
        severity = raw.get("severity")
        if severity not in SEVERITIES:
            problems.append(f"{spot}: severity must be one of {', '.join(SEVERITIES)}")
        params = raw.get("params", {})
        if not isinstance(params, Mapping):
            problems.append(f"{spot}: 'params' must be a mapping")
            params = {}
        checks.append(CheckRef(check=str(name), severity=str(severity), params=dict(params)))
    return checks
