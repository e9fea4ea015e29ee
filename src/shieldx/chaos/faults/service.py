"""Applying and removing faults: every live fault, whoever added it, with its undo."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from shieldx.chaos.faults import process, resources
from shieldx.chaos.faults.domain import (
    HTTP_KINDS,
    PROCESS_KINDS,
    PROXY_KINDS,
    FaultSpec,
    FaultSpecError,
)
from shieldx.chaos.faults.http import HttpFault, HttpFaults
from shieldx.chaos.faults.proxy import FaultProxy, ProxyHost, Toxic


def _nothing() -> None:
    """Undo of a fault that leaves nothing behind (a kill)."""


def _discard(fn: Callable[..., Any], *args: Any) -> None:
    fn(*args)


@dataclass
class AppliedFault:
    """A fault in effect: what, for whom, until when (monotonic), and how to undo it."""

    id: str
    spec: FaultSpec
    owner: str | None
    started: float
    expires_at: float
    undo: Callable[[], None] = field(repr=False, default=_nothing)

    def describe(self) -> dict[str, object]:
        """Plain data for the API."""
        return {
            "id": self.id,
            "kind": self.spec.kind,
            "target": self.spec.target,
            "path": self.spec.path,
            "params": dict(self.spec.params),
            "owner": self.owner,
            "expires_in_s": round(max(0.0, self.expires_at - time.monotonic()), 3),
        }


class FaultService:
    """The faults of this process: proxies, HTTP faults, stopped processes, pressure helpers."""

    def __init__(self, *, proxies: Mapping[str, FaultProxy], http: HttpFaults) -> None:
        self.proxies = dict(proxies)
        self.host = ProxyHost(self.proxies)
        self.http = http
        self._live: dict[str, AppliedFault] = {}

    def open_proxies(self) -> None:
        """Open every configured proxy (they forward unchanged until a fault is added)."""
        self.host.start()

    def close(self) -> None:
        """Roll every fault back and close the proxies."""
        self.rollback()
        self.host.stop()

    def apply(self, spec: FaultSpec, *, owner: str | None = None) -> AppliedFault:
        """Put SPEC into effect now; raises FaultSpecError or ProcessNotFound if it cannot be."""
        fault_id = f"flt_{secrets.token_hex(6)}"
        now = time.monotonic()
        expires = now + spec.ttl_s
        undo: Callable[[], None] = _nothing
        if spec.kind in PROXY_KINDS:
            proxy = self.proxies.get(spec.target)
            if proxy is None:
                known = ", ".join(sorted(self.proxies)) or "none configured"
                raise FaultSpecError(
                    f"no proxy named {spec.target!r} in chaos.proxies (known: {known})"
                )
            toxic = Toxic(
                id=fault_id,
                kind=spec.kind,
                expires_at=expires,
                latency_ms=spec.number("latency_ms") if spec.kind == "latency" else 0,
                jitter_ms=spec.number("jitter_ms") if spec.kind == "latency" else 0,
                percent=spec.number("percent") if spec.kind == "loss" else 0,
                retransmit_ms=spec.number("retransmit_ms") if spec.kind == "loss" else 0,
                kbps=spec.number("kbps") if spec.kind == "bandwidth" else 0,
            )
            self.host.call(partial(proxy.add, toxic))
            undo = partial(_discard, self.host.call, partial(proxy.remove, fault_id))
        elif spec.kind in HTTP_KINDS:
            self.http.faults[fault_id] = HttpFault(
                id=fault_id,
                path=spec.path,
                percent=spec.number("percent"),
                expires_at=expires,
                delay_s=spec.number("delay_ms") / 1000 if spec.kind == "http_delay" else 0.0,
                abort_status=int(spec.number("status")) if spec.kind == "http_abort" else None,
            )
            undo = partial(_discard, self.http.faults.pop, fault_id, None)
        elif spec.kind in PROCESS_KINDS:
            pid = process.resolve(spec.target, int(spec.params.get("pid", 0)))
            if spec.kind == "kill":
                process.kill(pid)
            else:
                undo = process.stop(pid, spec.ttl_s).resume
        else:
            amount = spec.number("workers") if spec.kind == "cpu" else spec.number("megabytes")
            helper = resources.start(
                spec.kind,
                seconds=spec.ttl_s,
                amount=int(amount),
                duty_percent=spec.number("percent") if spec.kind == "cpu" else 100,
            )
            undo = helper.stop
        fault = AppliedFault(fault_id, spec, owner, now, expires, undo)
        if spec.kind != "kill":  # a kill is done once applied; nothing stays to undo
            self._live[fault_id] = fault
        return fault

    def remove(self, fault_id: str) -> bool:
        """Undo one fault now; False if it is not in effect."""
        fault = self._live.pop(fault_id, None)
        if fault is None:
            return False
        fault.undo()
        return True

    def rollback(self, owner: str | None = None) -> int:
        """Undo every fault (of OWNER only, when given); how many were undone."""
        ids = [f.id for f in self._live.values() if owner is None or f.owner == owner]
        return sum(self.remove(fault_id) for fault_id in ids)

    def active(self) -> list[AppliedFault]:
        """The faults in effect; expired ones are undone here (the dead-man switch's
        in-process half: proxies, HTTP faults and helpers also expire on their own)."""
        now = time.monotonic()
        for fault in [f for f in self._live.values() if now >= f.expires_at]:
            self.remove(fault.id)
        return list(self._live.values())

    def oldest_start(self) -> float | None:
        """When the oldest live fault started (monotonic), if any."""
        live = self.active()
        return min(f.started for f in live) if live else None
