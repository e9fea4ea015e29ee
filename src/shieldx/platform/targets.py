"""Outbound HTTP targets (webhooks): refuse private addresses, resolve once, connect to the
address that was checked.

Checking a name and then letting the HTTP client resolve it again leaves a DNS-rebinding gap
(the second answer may be 127.0.0.1), so `resolve` looks the name up once, checks every
address it returns, refuses when the lookup fails, and `pinned` builds the request for the
checked address while keeping the name in the Host header and, for https, in SNI and
certificate verification (httpx's `sni_hostname` request extension).

An IPv6 address can carry an IPv4 one inside it: IPv4-mapped (::ffff:a.b.c.d),
IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96; 64:ff9b:1::/48 is local-use and refused
whole), 6to4 (2002::/16) and Teredo (2001::/32, server and client). Each embedded address
is checked as well, since the network may route to it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


class TargetRefused(ValueError):
    """The URL may not be called: not http(s), a private address, or a name that won't resolve."""


class LookupFailed(TargetRefused):
    """The name did not resolve (perhaps for now): nothing is sent."""


def parse_address(text: str) -> IPAddress | None:
    """The address TEXT spells (including the legacy IPv4 forms a C resolver accepts: "127.1",
    "0x7f.1", "2130706433"), or None when it is a name."""
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        pass
    if not text.isascii() or not text.replace(".", "").isalnum():
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        return None


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (mapped, compatible, NAT64, 6to4, Teredo)."""
    found: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    packed = int(ip)
    if packed >> 32 == 0 and packed > 1:  # IPv4-compatible ::a.b.c.d (deprecated, still routed)
        found.append(ipaddress.IPv4Address(packed & 0xFFFFFFFF))
    if ip in _NAT64:
        found.append(ipaddress.IPv4Address(packed & 0xFFFFFFFF))
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    return found


def is_forbidden(ip: IPAddress) -> bool:
    """Whether IP (or an IPv4 address inside it) is not a public unicast address."""
    if not ip.is_global or ip.is_multicast:
        return True
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL:
            return True
        return any(is_forbidden(inner) for inner in embedded_ipv4(ip))
    return False


@dataclass(frozen=True)
class Target:
    """A checked URL: its name, port and the address to connect to (None: not pinned)."""

    url: str
    host: str
    port: int
    address: IPAddress | None = None
    extensions: dict[str, Any] = field(default_factory=dict)


def check_url(url: str, *, allow_private: bool) -> Target:
    """Refuse a URL that is not http(s) or names a private address literally (no lookup)."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise TargetRefused(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused("must be an http or https URL")
    host = parts.hostname
    if not allow_private:
        ip = parse_address(host)
        local_name = host == "localhost" or host.endswith(".localhost")
        if local_name or (ip is not None and is_forbidden(ip)):
            raise TargetRefused(f"points at a private address ({host})")
    return Target(url, host, port)


async def resolve(url: str, *, allow_private: bool) -> Target:
    """Check URL and, unless private targets are allowed, look its host up once and pin the
    connection to an address that passed (TargetRefused if any address is private or the
    lookup fails)."""
    target = check_url(url, allow_private=allow_private)
    if allow_private:
        return target
    literal = parse_address(target.host)
    if literal is not None:
        return pin(target, literal)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            target.host, target.port, type=socket.SOCK_STREAM
        )
    except (OSError, UnicodeError) as exc:
        raise LookupFailed(f"the host {target.host!r} does not resolve ({exc})") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise LookupFailed(f"the host {target.host!r} does not resolve")
    bad = [str(a) for a in addresses if is_forbidden(a)]
    if bad:
        raise TargetRefused(f"the host {target.host!r} resolves to a private address ({bad[0]})")
    return pin(target, addresses[0])


def pin(target: Target, address: IPAddress) -> Target:
    """The request for TARGET sent to ADDRESS: the URL names the address, the Host header and
    TLS (SNI, certificate) the name."""
    parts = urlsplit(target.url)
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    if "@" in parts.netloc:
        netloc = parts.netloc.rsplit("@", 1)[0] + "@" + netloc
    pinned = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    extensions: dict[str, Any] = {}
    if parts.scheme == "https":
        extensions["sni_hostname"] = target.host
    return Target(pinned, target.host, target.port, address, extensions)


def host_header(url: str) -> str:
    """The Host header value for URL (its name and any explicit port)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return host if parts.port is None else f"{host}:{parts.port}"
