"""Fault specifications: what can be injected, with which parameters, checked before use.

Pure: no I/O. Every fault has a time to live; the engine caps it at chaos.max_fault_ttl.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Where each kind applies: a configured proxy, HTTP routes in this process, a process, or
# this machine's resources.
PROXY_KINDS = frozenset({"latency", "loss", "bandwidth", "reset", "blackhole"})
HTTP_KINDS = frozenset({"http_delay", "http_abort"})
PROCESS_KINDS = frozenset({"kill", "stop"})
RESOURCE_KINDS = frozenset({"cpu", "memory"})
KINDS = PROXY_KINDS | HTTP_KINDS | PROCESS_KINDS | RESOURCE_KINDS

# kind -> {parameter: (minimum, maximum, default)}; every parameter is a number.
_NUMBERS: dict[str, dict[str, tuple[float, float, float]]] = {
    "latency": {"latency_ms": (0, 60_000, 100), "jitter_ms": (0, 60_000, 0)},
    "loss": {"percent": (0, 100, 10), "retransmit_ms": (1, 10_000, 200)},
    "bandwidth": {"kbps": (1, 10_000_000, 64)},
    "reset": {},
    "blackhole": {},
    "http_delay": {"percent": (0, 100, 100), "delay_ms": (0, 60_000, 100)},
    "http_abort": {"percent": (0, 100, 100), "status": (400, 599, 503)},
    "kill": {"pid": (0, 2**22, 0)},
    "stop": {"pid": (0, 2**22, 0)},
    "cpu": {"workers": (1, 8, 1), "percent": (1, 100, 100)},
    "memory": {"megabytes": (1, 4096, 64)},
}


class FaultSpecError(ValueError):
    """A fault specification is unusable; the message says which field and how to fix it."""


@dataclass(frozen=True)
class FaultSpec:
    """A validated fault: kind, target, time to live and numeric parameters."""

    kind: str
    target: str
    ttl_s: float
    params: Mapping[str, float] = field(default_factory=dict)
    # For http faults: the path prefix the fault applies to.
    path: str = "/"

    def number(self, name: str) -> float:
        """A numeric parameter (its default if the spec did not set it)."""
        return self.params.get(name, _NUMBERS[self.kind][name][2])


def parse_fault(data: Mapping[str, Any], *, max_ttl_s: float, where: str = "fault") -> FaultSpec:
    """A FaultSpec from plain data, or FaultSpecError naming the bad field."""
    kind = data.get("kind")
    if kind not in KINDS:
        raise FaultSpecError(
            f"{where}.kind must be one of {', '.join(sorted(KINDS))} (got {kind!r})"
        )
    target = data.get("target", "")
    if not isinstance(target, str):
        raise FaultSpecError(f"{where}.target must be a string (got {target!r})")
    if kind in PROXY_KINDS and not target:
        raise FaultSpecError(f"{where}.target must name a proxy from chaos.proxies for {kind}")
    if kind in PROCESS_KINDS and not target and not data.get("pid"):
        raise FaultSpecError(
            f"{where}: {kind} needs target 'credits-commit' or a pid (got neither)"
        )
    ttl = data.get("ttl_s", 30)
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not 0 < ttl <= max_ttl_s:
        raise FaultSpecError(
            f"{where}.ttl_s must be a number of seconds above 0 and at most {max_ttl_s:g} "
            f"(chaos.max_fault_ttl) (got {ttl!r})"
        )
    allowed = _NUMBERS[kind]
    params: dict[str, float] = {}
    for name, value in data.items():
        if name in {"kind", "target", "ttl_s", "path"}:
            continue
        if name not in allowed:
            names = ", ".join(sorted(allowed)) or "none"
            raise FaultSpecError(f"{where}.{name}: unknown parameter for {kind} (allowed: {names})")
        low, high, _ = allowed[name]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            raise FaultSpecError(
                f"{where}.{name} must be a number from {low:g} to {high:g} (got {value!r})"
            )
        params[name] = float(value)
    path = data.get("path", "/")
    if not isinstance(path, str) or not path.startswith("/"):
        raise FaultSpecError(f"{where}.path must be a path prefix starting with / (got {path!r})")
    return FaultSpec(kind=kind, target=target, ttl_s=float(ttl), params=params, path=path)
