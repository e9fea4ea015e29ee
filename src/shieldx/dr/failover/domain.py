"""Health scores and failover decisions (pure: no I/O, no clock).

A region's score is 0.0 when its database cannot be reached. Otherwise it is built from
three probes: connectivity (0.4), the role check (0.3: the primary region accepts the write
probe, a standby region refuses writes as a standby must) and replication lag (0.3: full
while the lag is within the RPO target, falling linearly to 0 at ten times it; the primary
region, which has no lag of its own, gets it in full). A check fails when its score is
below FAILING_BELOW; `failover_threshold` consecutive failures of the primary region, with
`auto_failover`, start a failover to the standby region with the best (lowest) priority
among those that passed their last check.
"""

from __future__ import annotations

from dataclasses import dataclass

STEPS = ("detect", "fence", "promote", "route", "verify_lag", "confirm")
FAILING_BELOW = 0.5


@dataclass(frozen=True)
class Probe:
    """What one health check of one region found."""

    connected: bool
    writable: bool
    lag_bytes: int | None = None
    lag_seconds: float | None = None
    error: str | None = None


def score(probe: Probe, *, primary: bool, rpo_s: float) -> float:
    """The region's health from 0.0 (down) to 1.0 (see the module docstring)."""
    if not probe.connected:
        return 0.0
    total = 0.4
    if probe.writable == primary:
        total += 0.3
    if primary or probe.lag_seconds is None or probe.lag_seconds <= rpo_s:
        total += 0.3 if primary or probe.lag_seconds is not None else 0.15
    elif rpo_s > 0:
        total += 0.3 * max(0.0, 1 - (probe.lag_seconds - rpo_s) / (9 * rpo_s))
    return round(total, 3)


def failed(value: float) -> bool:
    """Whether a check with this score counts as a failure."""
    return value < FAILING_BELOW


def should_fail_over(failures: int, *, threshold: int, auto: bool) -> bool:
    """Whether the primary region's consecutive failures call for an automatic failover."""
    return auto and failures >= threshold


@dataclass(frozen=True)
class Candidate:
    """A region failover could move to: its name, priority and last score."""

    name: str
    priority: int
    score: float


def choose_target(candidates: list[Candidate], *, exclude: str) -> str | None:
    """The healthy region (other than EXCLUDE) with the lowest priority number, if any."""
    healthy = [c for c in candidates if c.name != exclude and not failed(c.score)]
    if not healthy:
        return None
    return min(healthy, key=lambda c: (c.priority, c.name)).name


def home_region(candidates: list[Candidate]) -> str | None:
    """Where failback returns: the region with the lowest priority number."""
    if not candidates:
        return None
    return min(candidates, key=lambda c: (c.priority, c.name)).name


def patroni_dynamic_config(mode: str) -> dict[str, object]:
    """What each replication mode means in Patroni's dynamic configuration.

    sync: synchronous_mode with synchronous_commit=on - a commit returns once the standby
    region flushed it to disk (RPO 0). semi_sync: synchronous_mode with synchronous_commit=
    remote_write - once the standby region's OS has it, before it is flushed or applied
    (lost only if both regions crash at once). async: no synchronous standby - a commit
    returns after the local flush; the standby lags and what it had not received is lost.
    """
    commit = {"sync": "on", "semi_sync": "remote_write", "async": "local"}[mode]
    return {
        "synchronous_mode": mode != "async",
        "postgresql": {"parameters": {"synchronous_commit": commit}},
    }
