"""Where the platform's listeners are, as the settings name them (import-light: the CLI uses it)."""

from __future__ import annotations

import contextlib
import ipaddress


def listener_url(host: str, port: int) -> str:
    """The base URL a client uses for a listener bound to HOST:PORT (a wildcard bind is reached
    on loopback)."""
    with contextlib.suppress(ValueError):  # a name, not an address
        address = ipaddress.ip_address(host)
        if address.is_unspecified:
            host = "::1" if address.version == 6 else "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
