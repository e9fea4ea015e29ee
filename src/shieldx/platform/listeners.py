"""Where the platform's listeners are, as the settings name them (import-light: the CLI uses it)."""

from __future__ import annotations

import contextlib
import ipaddress


def listener_url(host: str, port: int, tls: bool = False) -> str:
    """The base URL a client uses for a listener bound to HOST:PORT (a wildcard bind is reached
    on loopback; https when the listeners speak TLS)."""
    with contextlib.suppress(ValueError):  # a name, not an address
        address = ipaddress.ip_address(host)
        if address.is_unspecified:
            host = "::1" if address.version == 6 else "127.0.0.1"
    scheme = "https" if tls else "http"
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"
