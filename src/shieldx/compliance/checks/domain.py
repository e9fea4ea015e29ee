"""What a check decides: a verdict and the evidence behind it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """A check's verdict."""

    COMPLIANT = "compliant"
    NON_COMPLIANT = "non_compliant"
    NOT_APPLICABLE = "not_applicable"


@dataclass(frozen=True)
class Outcome:
    """A verdict, one line saying why, and the evidence that decided it (JSON-able)."""

    status: Status
    summary: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
