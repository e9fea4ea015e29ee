"""The request and response shapes shared by the parser, the dialects and the protocol."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class RequestLine:
    """A request line split the way the mimicked server split it."""

    method: str
    target: str
    version: tuple[int, int]
    version_text: str
    path: str = ""
    query: str = ""
    uri_host: str | None = None

    @property
    def http09(self) -> bool:
        """True for a version-less (HTTP/0.9) request line."""
        return self.version == (0, 9)


@dataclass(slots=True)
class Request:
    """A request head the mimicked server accepted, with what its routing needs.

    ``problem`` is a status the server will answer once it has the whole request (a bad
    escape in the path, a body over the limit); ``target`` is what the dialect's routing
    resolved the path to.
    """

    line: RequestLine
    headers: list[tuple[str, str]]
    fields: dict[str, str]
    path: str
    query: str
    host: str | None = None
    host_port: int | None = None
    keep_alive: bool = True
    body: bytes = b""
    body_length: int = 0
    problem: int = 0
    target: tuple[object, ...] | None = None

    def header(self, lower_name: str) -> str | None:
        """Return a header's value by lower-case name (the first one if repeated)."""
        return self.fields.get(lower_name)


class Rejection(Exception):
    """A request the mimicked server refuses; the dialect turns it into that server's answer."""

    def __init__(self, status: int, variant: str = "", *, http09: bool = False) -> None:
        super().__init__(status, variant)
        self.status = status
        self.variant = variant
        self.http09 = http09


@dataclass(slots=True)
class Response:
    """A response as the mimicked server would put it on the wire.

    Strings are latin-1 (byte-preserving); ``body`` is the body as sent (already chunked or
    compressed when the server does that); ``preamble`` goes first (an interim 100 Continue);
    ``drain`` keeps a closing connection open to swallow an unread body, as nginx does.
    """

    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    keep_alive: bool = True
    send_body: bool = True
    http09: bool = False
    preamble: bytes = b""
    drain: bool = False

    def encode(self) -> bytes:
        """Serialize to the exact bytes to send (status line, headers, blank line, body)."""
        if self.http09:
            return self.preamble + self.body if self.send_body else self.preamble
        parts = [f"HTTP/1.1 {self.status} {self.reason}\r\n"]
        parts.extend(f"{name}: {value}\r\n" for name, value in self.headers)
        parts.append("\r\n")
        head = self.preamble + "".join(parts).encode("latin-1", "replace")
        return head + self.body if self.send_body else head


@dataclass(slots=True)
class ConnectionState:
    """What a dialect may know about the connection a request arrived on."""

    local_port: int
    peer_host: str
    peer_port: int
    date: str = ""
    served: int = 0
    server_name: str = "localhost"
    extra: dict[str, object] = field(default_factory=dict)
    local_host: str = ""
    ja4: str = ""
