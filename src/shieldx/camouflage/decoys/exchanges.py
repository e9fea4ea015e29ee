"""What a decoy hands to the rest of the service: recorded exchanges and dynamic pages.

Two hooks plug a decoy into the camouflage service without the decoy knowing about databases,
sessions or mazes:

* an :class:`ExchangeObserver` is called synchronously, once per finished exchange (rejected and
  malformed ones included), with a frozen :class:`DecoyExchange`. It must not block or do I/O:
  it is expected to append to an in-memory batch that is written elsewhere.
* a :class:`DynamicContentProvider` is awaited for requests under configured path prefixes (the
  maze, honeytoken pages). It returns a :class:`DynamicResponse` (status, content type, body,
  optional delay, optional file mtime) that the decoy wraps in its template's own header style, or ``None`` to let the
  template answer as the mimicked server would (usually its 404).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

#: How many request headers an exchange keeps (``headers_truncated`` says some were dropped).
MAX_RECORDED_HEADERS = 64
#: How many bytes of a header value an exchange keeps.
MAX_RECORDED_HEADER_VALUE = 1024
#: How many bytes of a request body an exchange keeps (``body_length`` has the real size).
MAX_RECORDED_BODY = 8192


@dataclass(frozen=True, slots=True)
class DecoyExchange:
    """One request and the decoy's answer, as recorded for the observer.

    ``target`` is the raw request target (the whole raw request line when it could not be
    split), byte-preserving latin-1; ``path`` is percent-decoded and shown as UTF-8;
    ``status`` is 0 and ``reason`` says why when nothing was sent (client gone, timeout);
    ``malformed`` marks requests the mimicked server refused while reading them.
    """

    time: float
    decoy: str
    template: str
    peer_host: str
    peer_port: int
    method: str
    target: str
    path: str
    query: str
    http_version: str
    headers: tuple[tuple[str, str], ...]
    headers_truncated: bool
    body: bytes
    body_length: int
    status: int
    bytes_sent: int
    malformed: bool
    reason: str = ""
    connection_requests: int = 1
    #: The JA4 fingerprint of the client's TLS ClientHello (HTTPS decoys; "" otherwise).
    ja4: str = ""


class ExchangeObserver(Protocol):
    """Receives every finished exchange; must be fast and must not do I/O."""

    def __call__(self, exchange: DecoyExchange, /) -> None:
        """Take note of one exchange (called on the event loop, once per exchange)."""


@dataclass(frozen=True, slots=True)
class DynamicRequest:
    """The parts of a request a dynamic content provider may look at."""

    decoy: str
    template: str
    peer_host: str
    peer_port: int
    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    #: The port the client reached (the public port when the decoy sits behind a mapping).
    local_port: int = 0
    #: The address the client reached.
    local_host: str = ""


@dataclass(frozen=True, slots=True)
class DynamicResponse:
    """A page produced by a provider; the decoy adds the mimicked server's headers."""

    status: int = 200
    content_type: str = "text/html"
    body: bytes = b""
    delay_s: float = 0.0
    extra_headers: tuple[tuple[str, str], ...] = field(default=())
    #: Set for a file (bait, maze export): the decoy serves it exactly as the mimicked server
    #: serves a static file with this modification time (validators, ranges, conditionals).
    mtime: float | None = None
    #: False for a page a server module writes as it goes (nginx's autoindex): sent chunked.
    length_known: bool = True


class DynamicContentProvider(Protocol):
    """Produces pages for a path prefix (maze, honeytokens)."""

    async def __call__(self, request: DynamicRequest, /) -> DynamicResponse | None:
        """Return the page for this request, or None to let the template answer."""


@dataclass(slots=True)
class DecoyStats:
    """Counters a decoy keeps about itself (read by metrics)."""

    connections: int = 0
    open_connections: int = 0
    requests: int = 0
    malformed: int = 0
    internal_errors: int = 0
    observer_errors: int = 0
    provider_errors: int = 0
    timeouts: int = 0
