"""The byte-level HTTP/1.x connection handler every decoy runs (an asyncio.Protocol).

The protocol frames bytes into a request line, header lines and a body under the dialect's caps,
lets the dialect accept or refuse each part, sends exactly the bytes the dialect produces, runs
the timers a real server runs (first byte, header, body, keep-alive, linger) and reports each
finished exchange to the observer. Any exception inside is caught here: the client then gets the
mimicked server's own 500 (or nothing, if even that fails) and the error is counted.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, cast

from .bodies import BodyReader
from .dynamic import serve_dynamic
from .messages import ConnectionState, Rejection, Request, RequestLine, Response
from .recording import ExchangeRecorder

if TYPE_CHECKING:
    from .server import DecoySite

log = logging.getLogger(__name__)

_BLANK_LINES = (b"\r\n", b"\n")
_MAX_BUFFER = 256 * 1024


class DecoyProtocol(asyncio.Protocol):
    """One client connection to a decoy."""

    def __init__(self, site: DecoySite) -> None:
        self.site = site
        self.dialect = site.dialect
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.pos = 0
        self.stage = "line"
        self.line: RequestLine | None = None
        self.fields: list[bytes] = []
        self.head_bytes = 0
        self.head_state: list[int] = []
        self.bare_lf = False
        self.request: Request | None = None
        self.body: BodyReader | None = None
        self.answered: Response | None = None
        self.closing = False
        self.eof = False
        self.write_paused = False
        self.read_paused = False
        self.timer: asyncio.TimerHandle | None = None
        self.task: asyncio.Task[None] | None = None
        self.conn = ConnectionState(local_port=0, peer_host="", peer_port=0)
        self.record = ExchangeRecorder(site, self.conn)

    # -- asyncio callbacks -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Start the first-byte timer and remember the peer."""
        self.transport = cast(asyncio.Transport, transport)
        peer = self.transport.get_extra_info("peername") or ("", 0)
        sock = self.transport.get_extra_info("sockname") or ("", 0)
        self.conn.peer_host, self.conn.peer_port = str(peer[0]), int(peer[1])
        self.conn.local_port = int(sock[1])
        self.conn.local_host = str(sock[0])
        self.conn.ja4 = str(self.transport.get_extra_info("ja4") or "")
        self.conn.server_name = self.site.server_name
        stats = self.site.stats
        stats.connections += 1
        stats.open_connections += 1
        self.site.connections.add(self)
        if stats.open_connections > self.site.options.max_connections:
            self._abort()
            return
        self._arm(self.site.timeouts.first_byte)

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the connection; record a half-received request as malformed."""
        if self.stage in ("line", "head", "body") and (self.line or self._pending()):
            self.record.partial(self.line, self._raw_pending(), "connection-lost")
        self.closing = True
        self._disarm()
        if self.task is not None:
            self.task.cancel()
        self.site.connections.discard(self)
        self.site.stats.open_connections -= 1

    def data_received(self, data: bytes) -> None:
        """Buffer the bytes and advance the state machine."""
        if self.closing or self.stage == "linger":
            return
        self.buf += data
        per_read = self.dialect.header_timeout_per_read
        if self.stage == "line" and not self.record.started:
            self.record.start()
            self._arm(self.site.timeouts.header)
        elif self.stage in ("line", "head") and per_read:
            self._arm(self.site.timeouts.header)
        elif self.stage == "body":
            self._arm(self._body_timeout())
        self.advance()
        if self._pending() > _MAX_BUFFER and self.transport is not None and not self.read_paused:
            self.read_paused = True
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        """Finish what is buffered, then close (keep the transport open to write)."""
        self.eof = True
        if self.stage == "linger":
            self._abort()
        elif self.stage != "busy" and not self.write_paused:
            self.advance()
        return True

    def pause_writing(self) -> None:
        """Stop answering pipelined requests until the client reads."""
        self.write_paused = True

    def resume_writing(self) -> None:
        """Continue with buffered requests."""
        self.write_paused = False
        self.advance()

    # -- the state machine -----------------------------------------------------------------

    def advance(self) -> None:
        """Process as much of the buffer as the stage allows."""
        try:
            progressed = True
            while progressed and not self.closing and not self.write_paused:
                if self.stage == "line":
                    progressed = self._read_line()
                elif self.stage == "head":
                    progressed = self._read_head()
                elif self.stage == "body":
                    progressed = self._read_body()
                else:
                    progressed = False
            if self.pos:
                del self.buf[: self.pos]
                self.pos = 0
            if self.read_paused and self.stage != "busy" and self.transport is not None:
                self.read_paused = False
                self.transport.resume_reading()
        except Rejection as rejection:
            self._reject(rejection)
        except Exception:
            self.internal_error()
        if self.eof and not self.write_paused:
            self._close_if_idle()

    def _pending(self) -> int:
        return len(self.buf) - self.pos

    def _raw_pending(self) -> bytes:
        return bytes(self.buf[self.pos : self.pos + 8192])

    def _take_line(self, limit: int) -> bytes | None:
        """The next line with its terminator; None if incomplete; raises if over limit."""
        nl = self.buf.find(b"\n", self.pos)
        if nl < 0:
            return None
        if nl - self.pos + 1 > limit:
            return b""
        line = bytes(self.buf[self.pos : nl + 1])
        self.pos = nl + 1
        return line

    def _read_line(self) -> bool:
        cap = self.dialect.limits.request_line or 1 << 20
        line = self._take_line(cap)
        if line is None:
            if self._pending() >= cap:
                self.dialect.request_line_too_long()
            if self.dialect.line_prefix_invalid(bytes(self.buf[self.pos : self.pos + 64])):
                raise Rejection(400)
            return False
        if line == b"":
            self.dialect.request_line_too_long()
        if line in _BLANK_LINES:
            return True
        self.record.raw_line = line
        self.head_state = []
        self.dialect.admit_line(self.head_state, len(line), first=True)
        self.head_bytes = len(line)
        self.line = self.dialect.parse_request_line(line)
        self.record.raw_fields = self.fields
        if self.line.http09:
            self._dispatch(self.dialect.parse_head(self.line, [], False))
        else:
            self.stage = "head"
        return True

    def _read_head(self) -> bool:
        assert self.line is not None
        limits = self.dialect.limits
        cap = limits.header_line or 1 << 20
        line = self._take_line(cap)
        if line is None:
            if self._pending() >= cap:
                self.dialect.header_too_large(self.line, "line")
            if limits.head_total and self.head_bytes + self._pending() > limits.head_total:
                self.dialect.header_too_large(self.line, "head")
            return False
        if line == b"":
            self.dialect.header_too_large(self.line, "line")
        self.head_bytes += len(line)
        self.dialect.admit_line(self.head_state, len(line), first=False)
        if line.endswith(b"\r\n"):
            content = line[:-2]
        else:
            content = line[:-1]
            self.bare_lf = True
        if not content:
            self._dispatch(self.dialect.parse_head(self.line, self.fields, self.bare_lf))
            return True
        if limits.head_total and self.head_bytes > limits.head_total:
            self.dialect.header_too_large(self.line, "head")
        self.fields.append(content)
        if limits.header_count and len(self.fields) > limits.header_count:
            self.dialect.header_too_large(self.line, "count")
        return True

    def _dispatch(self, request: Request) -> None:
        self.request = request
        self.conn.served += 1
        self.conn.date = self.site.clock.current()
        framing = self.dialect.body_framing(request) if not request.line.http09 else None
        if framing is not None and framing.present:
            self.body = BodyReader(framing.length, 0)
            interim = self.dialect.interim(request)
            if interim and self.transport is not None:
                self.transport.write(interim)
                self.record.sent(0, len(interim))
        provider = self.site.provider_for(request.path)
        if provider is None and self.dialect.respond_before_body:
            if self.body is not None and self._body_broken(framing.length if framing else 0):
                request.keep_alive = False  # the discard already failed: nginx closes after
            self.send(self.dialect.respond(request, self.conn))
        if self.body is not None:
            self.stage = "body"
            self._arm(self._body_timeout())
            return
        self._complete(provider)

    def _body_broken(self, length: int | None) -> bool:
        """Whether the body bytes already received are malformed (read on a copy)."""
        try:
            BodyReader(length, 0).feed(bytearray(self.buf[self.pos :]))
        except Rejection:
            return True
        return False

    def _body_timeout(self) -> float:
        # A server that has already answered only swallows the rest (nginx: lingering_timeout).
        return self.site.timeouts.linger if self.answered else self.site.timeouts.body

    def _read_body(self) -> bool:
        assert self.body is not None
        used = self.body.feed(self.buf[self.pos :])
        self.pos += used
        if not self.body.done:
            return False
        assert self.request is not None
        self.request.body = self.body.kept
        self.request.body_length = self.body.total
        self.body = None
        self._complete(self.site.provider_for(self.request.path))
        return not self.closing

    def _complete(self, provider: object | None) -> None:
        assert self.request is not None
        request = self.request
        if self.answered is not None:
            self.finish(self.answered)
        elif provider is not None:
            self.stage = "busy"
            self._disarm()
            self.task = asyncio.get_running_loop().create_task(serve_dynamic(self, request))
        else:
            self.finish(self.send(self.dialect.respond(request, self.conn)))

    # -- sending and finishing -------------------------------------------------------------

    def send(self, response: Response) -> Response:
        """Write a response and account for it in the record."""
        if self.transport is None or self.closing:
            return response
        data = response.encode()
        self.transport.write(data)
        self.record.sent(response.status, len(data))
        self.answered = response
        return response

    def finish(self, response: Response) -> None:
        """Record the exchange, then keep the connection for the next request or close it."""
        self.record.finish(self.request)
        self.answered = None
        self.request = None
        self.line = None
        self.fields = []
        self.head_bytes = 0
        self.bare_lf = False
        if not response.keep_alive or response.http09:
            self._close()
            return
        self.stage = "line"
        self._arm(self.site.timeouts.keepalive)

    def _reject(self, rejection: Rejection) -> None:
        self.conn.date = self.site.clock.current()
        line = self.line
        if rejection.http09 and line is None:
            line = RequestLine("GET", "", (0, 9), "")
        try:
            if self.stage == "body" and self.request is not None:
                response = self.dialect.body_rejected(rejection, self.request, self.conn)
            else:
                response = self.dialect.reject(rejection.status, rejection.variant, line, self.conn)
        except Exception:
            self.internal_error()
            return
        if self.answered is None:
            self.send(response)
        self.record.rejected(self.line, self._raw_pending(), rejection.status)
        self._close(half_close=not response.drain)

    def internal_error(self) -> None:
        """Answer with the server's own 500 after a bug of ours, count it, close."""
        self.site.stats.internal_errors += 1
        log.exception("decoy %s: internal error while handling a request", self.site.name)
        if self.closing:
            return
        try:
            if self.answered is None:
                self.conn.date = self.site.clock.current()
                self.send(self.dialect.internal_error(self.line, self.conn))
            self.record.rejected(self.line, self._raw_pending(), 500, reason="internal-error")
        except Exception:
            log.exception("decoy %s: could not send the internal-error page", self.site.name)
        self._close()

    def on_timer(self) -> None:
        """A timer fired: answer like the server does when a client stalls, then close."""
        self.timer = None
        if self.closing:
            return
        self.site.stats.timeouts += 1
        if self.stage == "linger" or self.stage == "busy":
            self._abort()
            return
        if self.stage == "line" and self.line is None and not self._pending():
            self._close()
            return
        try:
            self.conn.date = self.site.clock.current()
            response = None
            if self.answered is None:
                response = self.dialect.on_timeout(self.stage, self.line, self.request, self.conn)
            if response is not None:
                self.send(response)
            if self.request is not None and self.stage == "body":
                self.record.finish(self.request, reason="body-timeout")
            else:
                self.record.rejected(self.line, self._raw_pending(), 408, reason="timeout")
        except Exception:
            self.internal_error()
            return
        self._close()

    # -- timers and closing ----------------------------------------------------------------

    def _arm(self, seconds: float) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = asyncio.get_running_loop().call_later(seconds, self.on_timer)

    def _disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _close_if_idle(self) -> None:
        if self.closing or self.stage in ("busy", "linger"):
            return
        if self.line is not None or self._pending():
            if self.request is not None and self.stage == "body":
                self.record.finish(self.request, reason="body-incomplete")
            else:
                self.record.partial(self.line, self._raw_pending(), "closed-by-client")
        self._close()

    def _close(self, *, half_close: bool = True) -> None:
        """Half-close and drain briefly (lingering close) so the client is not reset."""
        if self.closing or self.transport is None:
            return
        self.stage = "linger"
        self.buf.clear()
        self.pos = 0
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        if self.eof or not self.transport.can_write_eof():
            self.closing = True
            self._disarm()
            self.transport.close()
            return
        if half_close:
            self.transport.write_eof()
        self._arm(self.site.timeouts.linger)

    def _abort(self) -> None:
        self.closing = True
        self._disarm()
        if self.transport is not None:
            self.transport.close()
