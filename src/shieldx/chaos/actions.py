"""Chaos Toolkit actions (python provider, `"module": "shieldx.chaos.actions"`).

Each call goes to a running ShieldX over HTTP: configuration `shieldx_url` (default
http://127.0.0.1:5004) and secret `api_key` (an admin key), or the SHIELDX_URL and
SHIELDX_API_KEY variables. ShieldX's own engine runs the same functions in process.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

Configuration = dict[str, Any] | None
Secrets = dict[str, Any] | None


def endpoint(configuration: Configuration, secrets: Secrets) -> tuple[str, dict[str, str]]:
    """The ShieldX base URL and the admin Authorization header to use."""
    config = configuration or {}
    url = str(config.get("shieldx_url") or os.environ.get("SHIELDX_URL", "http://127.0.0.1:5004"))
    key = (secrets or {}).get("api_key") or os.environ.get("SHIELDX_API_KEY", "")
    return url.rstrip("/"), {"Authorization": f"Bearer {key}"}


def _check(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise RuntimeError(f"ShieldX answered {response.status_code}: {response.text}")
    return response.json() if response.content else None


def inject_fault(
    kind: str,
    target: str = "",
    duration: str = "30s",
    options: dict[str, float] | None = None,
    path: str = "/",
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> str:
    """Apply one fault on the running ShieldX for DURATION; its id."""
    from shieldx.chaos.experiments.domain import parse_seconds

    url, headers = endpoint(configuration, secrets)
    body = {
        **(options or {}),
        "kind": kind,
        "target": target,
        "path": path,
        "ttl_s": parse_seconds(duration, "duration"),
    }
    answer = _check(httpx.post(f"{url}/chaos/faults", json=body, headers=headers, timeout=10))
    return str(answer["id"])


def remove_faults(configuration: Configuration = None, secrets: Secrets = None) -> int:
    """Remove every live fault; how many were removed."""
    url, headers = endpoint(configuration, secrets)
    answer = _check(httpx.delete(f"{url}/chaos/faults", headers=headers, timeout=10))
    return int(answer["removed"])
