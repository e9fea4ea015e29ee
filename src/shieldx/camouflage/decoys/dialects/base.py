"""The base every server dialect subclasses: what a protocol asks of a mimicked server.

A dialect is the behaviour of one server family (how it splits a request line, which requests it
refuses and how, which headers it sends in which order, how it pads, compresses and closes). The
data (Server token, pages, limits, reasons, files) comes from the template it is built from; the
code in a subclass is the part of the server that no data file can describe.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, NoReturn

from ..exchanges import DynamicResponse
from ..messages import ConnectionState, Rejection, Request, RequestLine, Response
from ..templates import StaticFile, Template


@dataclass(frozen=True, slots=True)
class HeadLimits:
    """Size caps on a request head, as the mimicked server enforces them (0 = none)."""

    request_line: int
    header_line: int
    head_total: int
    header_count: int
    body: int


@dataclass(frozen=True, slots=True)
class Timeouts:
    """How long the mimicked server waits, in seconds."""

    first_byte: float
    header: float
    body: float
    keepalive: float
    linger: float


@dataclass(frozen=True, slots=True)
class BodyFraming:
    """How the body of an accepted request is delimited: no body, a length, or chunked."""

    length: int | None
    chunked: bool = False

    @property
    def present(self) -> bool:
        """True when there are body bytes to read."""
        return self.chunked or bool(self.length)


NO_BODY = BodyFraming(length=0)


class Dialect(ABC):
    """One server family's HTTP/1.x behaviour, configured by a template."""

    name: ClassVar[str] = ""
    #: True when the server answers before reading the request body (nginx, Tomcat).
    respond_before_body: ClassVar[bool] = False
    #: True when the header timeout restarts on every read (nginx) rather than being a total.
    header_timeout_per_read: ClassVar[bool] = True

    def __init__(self, template: Template, *, server_name: str, port: int) -> None:
        self.template = template
        self.server_name = server_name
        self.port = port
        config = template.config
        self.server_header = str(config.get("server_header", ""))
        self.reasons = {int(k): str(v) for k, v in template.section("reasons").items()}
        limits = template.section("limits")
        self.limits = HeadLimits(
            request_line=int(limits.get("request_line", 8192)),
            header_line=int(limits.get("header_line", 8192)),
            head_total=int(limits.get("head_total", 65536)),
            header_count=int(limits.get("header_count", 0)),
            body=int(limits.get("body", 0)),
        )
        timeouts = template.section("timeouts")
        self.timeouts = Timeouts(
            first_byte=float(timeouts.get("first_byte", timeouts.get("header", 60))),
            header=float(timeouts.get("header", 60)),
            body=float(timeouts.get("body", 60)),
            keepalive=float(timeouts.get("keepalive", 5)),
            linger=float(timeouts.get("linger", 5)),
        )
        self.keepalive_requests = int(config.get("keepalive_requests", 100))

    def reason(self, status: int) -> str:
        """The reason phrase this server puts after a status code."""
        return self.reasons.get(status, "")

    # -- parsing ---------------------------------------------------------------------------

    @abstractmethod
    def parse_request_line(self, line: bytes) -> RequestLine:
        """Split a request line (with its line terminator) or raise Rejection."""

    def line_prefix_invalid(self, partial: bytes) -> bool:
        """Whether an unfinished request line can already be refused (servers that parse
        byte by byte answer bad input before any newline). The default waits for the line."""
        return False

    @abstractmethod
    def request_line_too_long(self) -> NoReturn:
        """Raise the server's answer to an over-long request line."""

    @abstractmethod
    def header_too_large(self, line: RequestLine, what: str) -> NoReturn:
        """Raise the server's answer to an over-long header line, section or count."""

    def admit_line(self, state: list[int], length: int, *, first: bool) -> None:
        """Account for one head line (with terminator) against the server's buffers.

        ``state`` starts empty for each request and belongs to the dialect. The default does
        nothing: the per-line and total caps in ``limits`` are enforced by the protocol.
        """
        return

    @abstractmethod
    def parse_head(self, line: RequestLine, raw_fields: list[bytes], bare_lf: bool) -> Request:
        """Turn the header lines (without terminators) into a Request or raise Rejection.

        ``bare_lf`` says whether any header line ended in LF alone.
        """

    @abstractmethod
    def body_framing(self, request: Request) -> BodyFraming:
        """Say how the request body is delimited (raise Rejection to refuse it)."""

    # -- answering -------------------------------------------------------------------------

    def answer(
        self,
        request: Request,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
        keep_alive: bool,
    ) -> Response:
        """A response to an accepted request: no body for HEAD, nothing but the body for 0.9."""
        return Response(
            status,
            self.reason(status),
            headers,
            body,
            keep_alive=keep_alive and not request.line.http09,
            send_body=request.line.method != "HEAD",
            http09=request.line.http09,
        )

    def interim(self, request: Request) -> bytes:
        """Bytes sent as soon as a head with a body is accepted (e.g. 100 Continue)."""
        return b""

    @abstractmethod
    def respond(self, request: Request, conn: ConnectionState) -> Response:
        """Answer an accepted request from the template."""

    @abstractmethod
    def reject(
        self, status: int, variant: str, line: RequestLine | None, conn: ConnectionState
    ) -> Response:
        """Answer a refused request the way the server refuses it."""

    @abstractmethod
    def dynamic(self, request: Request, page: DynamicResponse, conn: ConnectionState) -> Response:
        """Wrap a dynamic page in this server's headers."""

    def body_rejected(
        self, rejection: Rejection, request: Request, conn: ConnectionState
    ) -> Response:
        """The answer to a malformed or oversized body (the head was accepted)."""
        return self.reject(rejection.status, rejection.variant, request.line, conn)

    def static(self, request: Request, found: StaticFile, conn: ConnectionState) -> Response:
        """Serve FOUND as a file of the document root (a provider's bait or maze file).

        The default wraps it like a generated page; dialects that model their static handler
        answer with its validators, ranges, conditionals and method rules.
        """
        page = DynamicResponse(200, found.content_type, found.body)
        return self.dynamic(request, page, conn)

    def internal_error(self, line: RequestLine | None, conn: ConnectionState) -> Response:
        """The server's answer when something breaks while handling a request."""
        return self.reject(500, "", line, conn)

    def on_timeout(
        self, stage: str, line: RequestLine | None, request: Request | None, conn: ConnectionState
    ) -> Response | None:
        """What the server sends when a client stalls in a stage (None: close silently)."""
        return None

    def keep_alive_wanted(self, line: RequestLine, connection: str | None) -> bool:
        """RFC 9112 persistence: 1.1 unless 'close', 1.0 only with 'keep-alive'."""
        tokens = {t.strip().lower() for t in connection.split(",")} if connection else set()
        if line.version >= (1, 1):
            return "close" not in tokens
        return "keep-alive" in tokens and "close" not in tokens
