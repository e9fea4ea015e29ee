"""What a drill measured, and how RTO and RPO follow from it (pure: no I/O, no clock)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Step:
    """One step of a failover: its name, when it was reached (s after the kill), how long."""

    name: str
    at: float
    duration_s: float

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return {"name": self.name, "at": round(self.at, 3), "duration_s": round(self.duration_s, 3)}


def steps_from(marks: list[tuple[str, float | None]]) -> list[Step]:
    """Steps from (name, seconds after the kill) marks; each lasts from the previous mark."""
    steps: list[Step] = []
    previous = 0.0
    for name, at in marks:
        if at is None:
            continue
        steps.append(Step(name, at, max(0.0, at - previous)))
        previous = max(previous, at)
    return steps


@dataclass(frozen=True)
class Reconciliation:
    """The client's acknowledged operations against what the ledger holds."""

    acknowledged: int
    missing: list[str]
    duplicated: list[str]
    unacknowledged_present: int  # refused or unanswered, yet committed (allowed: retried keys)


def reconcile(acknowledged: set[str], counts: dict[str, int], sent: set[str]) -> Reconciliation:
    """Compare ACKNOWLEDGED keys with COUNTS (events per idempotency key in the ledger)."""
    missing = sorted(k for k in acknowledged if counts.get(k, 0) == 0)
    duplicated = sorted(k for k, n in counts.items() if n > 1)
    extra = sum(1 for k in sent - acknowledged if counts.get(k, 0) > 0)
    return Reconciliation(len(acknowledged), missing, duplicated, extra)


@dataclass
class DrillReport:
    """What `shieldx dr drill --json` prints."""

    mode: str
    kill: str
    rto_s: float | None
    rpo_ops: int
    acknowledged_ops: int
    duplicated_ops: int
    steps: list[Step]
    ledger_verified: bool
    old_primary: str
    new_primary: str | None
    refused_ops: int = 0
    throughput_ops_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return {
            "mode": self.mode,
            "kill": self.kill,
            "rto_s": None if self.rto_s is None else round(self.rto_s, 3),
            "rpo_ops": self.rpo_ops,
            "acknowledged_ops": self.acknowledged_ops,
            "duplicated_ops": self.duplicated_ops,
            "refused_ops": self.refused_ops,
            "throughput_ops_s": round(self.throughput_ops_s, 1),
            "old_primary": self.old_primary,
            "new_primary": self.new_primary,
            "steps": [s.as_dict() for s in self.steps],
            "ledger_verified": self.ledger_verified,
            **self.extra,
        }
