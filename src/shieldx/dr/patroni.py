"""JSON over HTTP to Patroni's REST API and etcd (no client library needed)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any


def http_json(url: str, *, method: str = "GET", body: Any = None, timeout: float = 2.0) -> Any:
    """GET or POST URL (a loopback Patroni or etcd endpoint) and decode its JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - loopback http URLs built by ShieldX
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
        text = answer.read()
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:  # Patroni answers /switchover and /failover in plain text
        return text.decode(errors="replace")
