"""Patroni's leader key in etcd: who may accept writes (the fence ShieldX checks itself).

Patroni keeps `/service/<scope>/leader` (the leading member's name, on a lease of `ttl`)
and `/service/<scope>/members/<name>` (its conn_url) in etcd. A member whose Patroni died
can keep a read-write PostgreSQL after another member was promoted (no watchdog here), so
ShieldX routes new connections to the member the key names and, before acknowledging a
write, reads the key again (a linearizable read) to confirm the server it committed on
still leads. Read over etcd's v3 JSON gateway: no client library needed.
"""

from __future__ import annotations

import base64
import json
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit


class DcsUnavailable(Exception):
    """etcd did not answer, or holds no leader (an election is under way)."""


@dataclass(frozen=True)
class Leader:
    """The member holding the leader key, where it listens, and the key's revision (epoch)."""

    name: str
    host: str
    port: int
    epoch: int


class PatroniDcs:
    """Reads a Patroni cluster's leader from etcd (v3 API)."""

    def __init__(self, etcd_url: str, scope: str, *, timeout: float = 2.0) -> None:
        self.etcd_url = etcd_url.rstrip("/")
        self.scope = scope
        self.timeout = timeout

    def _get(self, key: str) -> tuple[str, int] | None:
        body = json.dumps({"key": base64.b64encode(key.encode()).decode()}).encode()
        request = urllib.request.Request(  # noqa: S310 - the configured etcd URL
            f"{self.etcd_url}/v3/kv/range", data=body, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310
                doc = json.loads(answer.read())
        except (OSError, ValueError) as exc:
            raise DcsUnavailable(f"etcd at {self.etcd_url} did not answer: {exc}") from exc
        kvs = doc.get("kvs") or []
        if not kvs:
            return None
        value = base64.b64decode(kvs[0].get("value", "")).decode()
        return value, int(kvs[0].get("create_revision", 0))

    def leader(self) -> Leader:
        """The current leader; DcsUnavailable when etcd is unreachable or no one leads."""
        found = self._get(f"/service/{self.scope}/leader")
        if found is None:
            raise DcsUnavailable(f"no leader in Patroni scope {self.scope!r} (an election?)")
        name, epoch = found
        member = self._get(f"/service/{self.scope}/members/{name}")
        if member is None:
            raise DcsUnavailable(f"leader {name!r} has no member record")
        conn_url = json.loads(member[0]).get("conn_url", "")
        parts = urlsplit(conn_url)
        if not parts.hostname or not parts.port:
            raise DcsUnavailable(f"leader {name!r} has no usable conn_url ({conn_url!r})")
        return Leader(name=name, host=parts.hostname, port=parts.port, epoch=epoch)
