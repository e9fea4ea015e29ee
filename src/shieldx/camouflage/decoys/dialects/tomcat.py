"""Apache Tomcat 9's HTTP/1.1 connector (Http11InputBuffer, Http11Processor), the ROOT webapp's
index.jsp, the read-only DefaultServlet and ErrorReportValve's pages."""

from __future__ import annotations

from typing import NoReturn

from ..exchanges import DynamicResponse
from ..messages import ConnectionState, Rejection, Request, RequestLine, Response
from ..templates import PageTemplate, Template
from .base import NO_BODY, BodyFraming, Dialect
from .common import (
    TOKEN_CHARS,
    AboveRoot,
    BadEscape,
    chunked,
    is_number,
    normalize_path,
    percent_decode,
)
from .uris import split_absolute

#: HttpParser: bytes never allowed in a request target.
_NOT_TARGET = frozenset(b'"<>\\^`{|}#') | frozenset(range(0x21)) | frozenset(range(0x7F, 0x100))
_PROTOCOL = frozenset(b"HTTP/0123456789.")
_SLOTS = ("uri", "method", "value", "year")
# StandardWrapper.getServletMethods() is a HashSet: this is its iteration order.
_JSP_TRACE_ALLOW = "HEAD, POST, GET, OPTIONS"
_DEFAULT_TRACE_ALLOW = "HEAD, DELETE, POST, GET, OPTIONS, PUT"
_JSP_ALLOW = "GET, HEAD, POST, OPTIONS"
_DEFAULT_ALLOW = "OPTIONS, GET, HEAD, POST"
_DROPS_CONNECTION = frozenset({400, 408, 411, 413, 414, 500, 501, 503, 505})
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-._:[]")


def printable(raw: bytes) -> str:
    """HeaderUtil.toPrintableString: bytes outside 0x20-0x7e become 0xNN."""
    return "".join(chr(c) if 0x20 <= c < 0x7F else f"0x{c:02x}" for c in raw)


def escape(text: str) -> str:
    """org.apache.tomcat.util.security.Escape.htmlElementContent."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
        .replace("/", "&#47;")
    )


class TomcatDialect(Dialect):
    """Tomcat 9: lenient splitting, strict characters, reason-less status lines, no Server."""

    name = "tomcat"
    respond_before_body = True
    header_timeout_per_read = True

    def __init__(self, template: Template, *, server_name: str, port: int) -> None:
        super().__init__(template, server_name=server_name, port=port)
        config = template.config
        self.server_info = str(config["server_info"])
        self.css = str(config["css"])
        self.titles = {int(k): str(v) for k, v in template.section("titles").items()}
        self.descriptions = {int(k): str(v) for k, v in template.section("descriptions").items()}
        self.messages = {
            str(k): PageTemplate(str(v), _SLOTS) for k, v in template.section("messages").items()
        }
        stack = template.section("stack")
        self.throw_sites = {str(k): str(v) for k, v in stack.items() if k != "frames"}
        self.frames = [str(f) for f in stack.get("frames", [])]
        jsp = template.section("jsp")
        self.jsp_paths = frozenset(str(p) for p in jsp.get("paths", []))
        self.jsp_page = PageTemplate(template.asset(str(jsp["source"])).decode("utf-8"), _SLOTS)
        self.jsp_buffer = int(jsp.get("buffer", 8192))

    def message(self, key: str, **values: str) -> str:
        """A LocalStrings message with its arguments filled in."""
        return self.messages[key].render(values, "utf-8").decode("utf-8")

    # -- parsing ---------------------------------------------------------------------------

    def parse_request_line(self, line: bytes) -> RequestLine:
        """Http11InputBuffer.parseRequestLine: SP/HT runs separate the parts."""
        raw = line.rstrip(b"\n").rstrip(b"\r") if line.endswith(b"\n") else line
        i = 0
        while i < len(raw) and raw[i] not in b" \t":
            if raw[i] not in TOKEN_CHARS:
                self._throw("method_name", raw[: i + 1])
            i += 1
        method = raw[:i]
        if i == len(raw):
            self._throw("method_name", line[: i + 1])
        rest = raw[i:].lstrip(b" \t")
        end = 0
        while end < len(rest) and rest[end] not in b" \t":
            if rest[end] in _NOT_TARGET:
                self._throw("target", rest[: end + 1])
            end += 1
        target, proto = rest[:end], rest[end:].lstrip(b" \t")
        if any(c not in _PROTOCOL for c in proto):
            self._throw("protocol", proto)
        if proto and proto not in (b"HTTP/1.1", b"HTTP/1.0"):
            raise Rejection(505)
        version = (1, proto[7] - 48) if proto else (0, 9)
        parsed = RequestLine(
            method.decode("latin-1"), target.decode("latin-1"), version, proto.decode("latin-1")
        )
        if not target.startswith(b"/") and target != b"*":
            authority, target = split_absolute(target)
            if authority is None:
                raise Rejection(400)
            parsed.uri_host = authority.decode("latin-1")
        path, _, query = target.partition(b"?")
        parsed.path, parsed.query = path.decode("latin-1"), query.decode("latin-1")
        return parsed

    def _throw(self, key: str, raw: bytes) -> NoReturn:
        raise Rejection(400, f"{key}:{printable(raw[:1024])}")

    def request_line_too_long(self) -> NoReturn:
        """maxHttpHeaderSize covers the request line too."""
        raise Rejection(400, "too_large:")

    def header_too_large(self, line: RequestLine, what: str) -> NoReturn:
        """maxHttpHeaderSize / maxHeaderCount."""
        raise Rejection(400, "too_large:")

    def parse_head(self, line: RequestLine, raw_fields: list[bytes], bare_lf: bool) -> Request:
        """Http11InputBuffer.parseHeader with rejectIllegalHeader, then prepareRequest."""
        headers: list[tuple[str, str]] = []
        fields: dict[str, str] = {}
        for raw in raw_fields:
            colon = raw.find(b":")
            name, value = raw[:colon], raw[colon + 1 :].strip(b" \t")
            if (
                colon <= 0
                or any(c not in TOKEN_CHARS for c in name)
                or any((c < 0x20 and c != 0x09) or c == 0x7F for c in value)
            ):
                self._throw("header", raw)
            key = name.decode("latin-1")
            lower = key.lower()
            if lower in ("host", "content-length") and lower in fields:
                raise Rejection(400)
            headers.append((key, value.decode("latin-1")))
            fields.setdefault(lower, value.decode("latin-1"))
        host = line.uri_host if line.uri_host is not None else fields.get("host")
        if line.version >= (1, 1) and host is None:
            raise Rejection(400)
        if host is not None and any(c not in _HOST_CHARS for c in host.lower()):
            raise Rejection(400)
        length = fields.get("content-length")
        encoding = fields.get("transfer-encoding")
        if (length is not None and not is_number(length)) or (length and encoding):
            raise Rejection(400)
        if encoding is not None and encoding.lower() not in ("chunked", "identity"):
            raise Rejection(501)
        request = Request(line, headers, fields, "", line.query, host=host)
        request.keep_alive = self.keep_alive_wanted(line, fields.get("connection"))
        self._locate(request)
        return request

    @staticmethod
    def _locate(request: Request) -> None:
        raw = request.line.path.encode("latin-1")
        if raw in (b"*", b""):
            request.path = raw.decode("latin-1")
            return
        lowered = raw.lower()
        try:
            if b"%2f" in lowered or b"%5c" in lowered or b"%00" in lowered or b"\\" in raw:
                raise BadEscape(raw)
            decoded = normalize_path(percent_decode(raw))
        except (BadEscape, AboveRoot):
            request.problem = 400
            return
        request.path = decoded.decode("latin-1")

    def body_framing(self, request: Request) -> BodyFraming:
        """Chunked or Content-Length (the DefaultServlet never reads it; Tomcat swallows it)."""
        if "transfer-encoding" in request.fields:
            return BodyFraming(length=None, chunked=True)
        length = int(request.fields.get("content-length") or 0)
        return BodyFraming(length=length) if length else NO_BODY

    # -- answering -------------------------------------------------------------------------

    def connection_headers(
        self, request: Request | None, conn: ConnectionState, status: int, length_known: bool
    ) -> tuple[list[tuple[str, str]], bool]:
        """Http11Processor.prepareResponse's Connection and Keep-Alive headers."""
        if (
            request is None
            or not request.keep_alive
            or status in _DROPS_CONNECTION
            or conn.served >= self.keepalive_requests
            or (not length_known and request.line.version < (1, 1))
        ):
            return [("Connection", "close")], False
        out: list[tuple[str, str]] = []
        if request.line.version < (1, 1):
            out.append(("Connection", "keep-alive"))
        asked = request.fields.get("connection", "").lower()
        if "keep-alive" in [t.strip() for t in asked.split(",")]:
            out.append(("Keep-Alive", f"timeout={int(self.timeouts.keepalive)}"))
            if request.line.version >= (1, 1):
                out.append(("Connection", "keep-alive"))
        return out, True

    def report(self, status: int, message: str = "", exception: str = "") -> bytes:
        """ErrorReportValve's page: status report, or exception report with a partial trace."""
        title = f"HTTP Status {status} \u2013 {self.titles.get(status, '')}"
        parts = [
            f'<!doctype html><html lang="en"><head><title>{title}</title>',
            f'<style type="text/css">{self.css}</style></head><body><h1>{title}</h1>',
            '<hr class="line" /><p><b>Type</b> ',
            "Exception Report" if exception else "Status Report",
            "</p>",
        ]
        if message:
            parts.append(f"<p><b>Message</b> {escape(message)}</p>")
        parts.append(f"<p><b>Description</b> {self.descriptions.get(status, '')}</p>")
        if exception:
            parts.append(f"<p><b>Exception</b></p><pre>{escape(exception)}</pre>")
            parts.append(
                "<p><b>Note</b> The full stack trace of the root cause is available in the "
                "server logs.</p>"
            )
        parts.append(f'<hr class="line" /><h3>{self.server_info}</h3></body></html>')
        return "".join(parts).encode("utf-8")

    def error(
        self,
        status: int,
        request: Request | None,
        conn: ConnectionState,
        *,
        message: str = "",
        exception: str = "",
        allow: str | None = None,
        line: RequestLine | None = None,
    ) -> Response:
        """An ErrorReportValve answer with Tomcat's header order."""
        body = self.report(status, message, exception)
        line = request.line if request is not None else line
        headers = [("Allow", allow)] if allow is not None else []
        headers += [
            ("Content-Type", "text/html;charset=utf-8"),
            ("Content-Language", "en"),
            ("Content-Length", str(len(body))),
            ("Date", conn.date),
        ]
        extra, keep = self.connection_headers(request, conn, status, True)
        headers += extra
        return Response(
            status,
            "",
            headers,
            body,
            keep_alive=keep,
            send_body=line is None or line.method != "HEAD",
            http09=line is not None and line.http09,
        )

    def reject(
        self, status: int, variant: str, line: RequestLine | None, conn: ConnectionState
    ) -> Response:
        """Parse errors: an exception report naming where Http11InputBuffer threw."""
        key, _, value = variant.partition(":")
        if key not in self.messages or key not in self.throw_sites:
            return self.error(status, None, conn, line=line)
        message = self.message(key, value=value)
        trace = "\n\t".join(
            [f"java.lang.IllegalArgumentException: {message}", self.throw_sites[key], *self.frames]
        )
        return self.error(status, None, conn, message=message, exception=trace + "\n", line=line)

    def respond(self, request: Request, conn: ConnectionState) -> Response:
        """CoyoteAdapter, then Jasper for the JSP paths or the read-only DefaultServlet."""
        if request.problem:
            return self.error(request.problem, request, conn)
        method, path = request.line.method, request.path
        jsp = path in self.jsp_paths
        if method == "TRACE":
            allow = _JSP_TRACE_ALLOW if jsp else _DEFAULT_TRACE_ALLOW
            return self.error(405, request, conn, message=self.message("trace"), allow=allow)
        if method == "OPTIONS":
            return self._options(request, conn, _JSP_ALLOW if jsp else _DEFAULT_ALLOW)
        if jsp:
            if method not in ("GET", "HEAD", "POST"):
                message = self.message("jsp_method")
                return self.error(405, request, conn, message=message, allow=_JSP_ALLOW)
            return self._jsp(request, conn)
        if method in ("PUT", "DELETE"):
            return self.error(405, request, conn, allow=_DEFAULT_ALLOW)
        if method not in ("GET", "HEAD", "POST"):
            message = self.message("not_implemented", method=method)
            return self.error(501, request, conn, message=message)
        missing = self.message("missing", uri=request.line.path)
        return self.error(404, request, conn, message=missing)

    def _options(self, request: Request, conn: ConnectionState, allow: str) -> Response:
        headers = [("Allow", allow), ("Content-Length", "0"), ("Date", conn.date)]
        extra, keep = self.connection_headers(request, conn, 200, True)
        return Response(200, "", headers + extra, b"", keep_alive=keep)

    def _jsp(self, request: Request, conn: ConnectionState) -> Response:
        year = conn.date.split(" ")[3] if conn.date.count(" ") >= 3 else "2025"
        body = self.jsp_page.render({"year": year}, "utf-8")
        line = request.line
        headers = [("Content-Type", "text/html;charset=UTF-8")]
        long_body = len(body) > self.jsp_buffer
        if not long_body:
            headers.append(("Content-Length", str(len(body))))
        elif line.version >= (1, 1):
            headers.append(("Transfer-Encoding", "chunked"))
            body = chunked([body[: self.jsp_buffer], body[self.jsp_buffer :]])
        headers.append(("Date", conn.date))
        extra, keep = self.connection_headers(
            request, conn, 200, not long_body or line.version >= (1, 1)
        )
        headers += extra
        return self.answer(request, 200, headers, body, keep)

    def dynamic(self, request: Request, page: DynamicResponse, conn: ConnectionState) -> Response:
        """A servlet's page: Content-Type, Content-Length, Date, keep-alive headers."""
        headers = [*page.extra_headers, ("Content-Type", page.content_type)]
        headers += [("Content-Length", str(len(page.body))), ("Date", conn.date)]
        extra, keep = self.connection_headers(request, conn, page.status, True)
        return self.answer(request, page.status, headers + extra, page.body, keep)
