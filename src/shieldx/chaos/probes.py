"""Chaos Toolkit probes (python provider, `"module": "shieldx.chaos.probes"`); see actions.py
for how they find ShieldX."""

from __future__ import annotations

import httpx

from shieldx.chaos.actions import Configuration, Secrets, endpoint


def service_ready(configuration: Configuration = None, secrets: Secrets = None) -> bool:
    """Whether ShieldX answers /ready with 200."""
    url, _ = endpoint(configuration, secrets)
    try:
        return httpx.get(f"{url}/ready", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _faults(configuration: Configuration, secrets: Secrets) -> dict[str, object]:
    url, headers = endpoint(configuration, secrets)
    response = httpx.get(f"{url}/chaos/faults", headers=headers, timeout=5)
    response.raise_for_status()
    data: dict[str, object] = response.json()
    return data


def active_fault_count(configuration: Configuration = None, secrets: Secrets = None) -> int:
    """How many faults are live on ShieldX."""
    faults = _faults(configuration, secrets)["faults"]
    assert isinstance(faults, list)
    return len(faults)


def error_rate(configuration: Configuration = None, secrets: Secrets = None) -> float:
    """The 5xx share of requests over the last 10 s, in percent."""
    value = _faults(configuration, secrets)["error_rate"]
    assert isinstance(value, float | int)
    return float(value)


def p99_ms(configuration: Configuration = None, secrets: Secrets = None) -> float:
    """The p99 request latency over the last 10 s, in milliseconds."""
    value = _faults(configuration, secrets)["p99_ms"]
    assert isinstance(value, float | int)
    return float(value)
