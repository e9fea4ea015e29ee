"""Apache httpd 2.4's HTTP/1.x behaviour with ``HttpProtocolOptions Strict`` (the default):
protocol.c's request-line and header parsing, the core's error pages with the ServerSignature
line, the default handler, mod_dir, mod_deflate and keep-alive as ap_set_keepalive does it."""

from __future__ import annotations

import random
from typing import NoReturn

from ..exchanges import DynamicResponse
from ..messages import ConnectionState, Rejection, Request, RequestLine, Response
from ..templates import PageTemplate, StaticFile, Template
from .apache_files import ApacheFiles, host_and_port
from .base import NO_BODY, BodyFraming, Dialect
from .common import TOKEN_CHARS, html_escape, is_number
from .uris import split_absolute

#: ap_status_drops_connection: statuses after which httpd never keeps the connection.
DROPS_CONNECTION = frozenset({400, 408, 411, 413, 414, 417, 500, 501, 503})
_SLOTS = (
    "status",
    "reason",
    "message",
    "signature",
    "host",
    "port",
    "method",
    "notes",
    "admin",
    "expect",
    "location",
)


class ApacheDialect(Dialect):
    """httpd 2.4 (strict): one space between parts, CRLF only, canned pages with the address."""

    name = "apache"
    respond_before_body = False
    header_timeout_per_read = False

    def __init__(self, template: Template, *, server_name: str, port: int) -> None:
        super().__init__(template, server_name=server_name, port=port)
        config = template.config
        self.signature = PageTemplate(str(config["signature"]), _SLOTS)
        self.page = PageTemplate(str(config["error_page"]), _SLOTS)
        self.messages = {
            int(code): PageTemplate(str(text), _SLOTS)
            for code, text in template.section("messages").items()
        }
        self.notes = {str(k): str(v) for k, v in template.section("notes").items()}
        self.admin = str(config.get("server_admin", "webmaster@localhost"))
        allow = [str(m) for m in config.get("allow", [])]
        random.Random(f"{server_name}:{port}").shuffle(allow)
        self.allow = ",".join(allow)
        self.files = ApacheFiles(self, template)

    # -- parsing ---------------------------------------------------------------------------

    def parse_request_line(self, line: bytes) -> RequestLine:
        """read_request_line and ap_parse_request_line in strict mode."""
        if not line.endswith(b"\r\n"):
            raise Rejection(400)
        parts = line[:-2].split(b" ")
        if len(parts) == 2 and parts[0] == b"GET" and parts[1]:
            method, target, proto = parts[0], parts[1], b""
        elif len(parts) == 3 and all(parts):
            method, target, proto = parts
        else:
            raise Rejection(400)
        if any(c not in TOKEN_CHARS for c in method):
            raise Rejection(400)
        if b"#" in target or any(c < 0x20 or c == 0x7F for c in target):
            raise Rejection(400)
        if proto:
            if (
                len(proto) != 8
                or not proto.startswith(b"HTTP/")
                or proto[6:7] != b"."
                or not proto[5:6].isdigit()
                or not proto[7:8].isdigit()
                or proto[5:6] == b"0"
            ):
                raise Rejection(400)
            version = (proto[5] - 48, proto[7] - 48)
        else:
            version = (0, 9)
        parsed = RequestLine(
            method.decode("latin-1"), target.decode("latin-1"), version, proto.decode("latin-1")
        )
        self._target(parsed, target)
        return parsed

    @staticmethod
    def _target(parsed: RequestLine, target: bytes) -> None:
        if parsed.method == "CONNECT" and target.startswith(b"/"):
            raise Rejection(400)
        if target == b"*" or target.startswith(b"/"):
            path = target
        elif parsed.method == "CONNECT":
            host, colon, port = target.rpartition(b":")
            if not colon or not host or not port.isdigit():
                raise Rejection(400)  # apr_uri_parse_hostinfo: CONNECT needs host:port
            parsed.uri_host = target.decode("latin-1")
            path = b""
        else:
            authority, path = split_absolute(target)
            if authority is None:
                raise Rejection(400)
            parsed.uri_host = authority.decode("latin-1")
        raw_path, _, query = path.partition(b"?")
        parsed.path = raw_path.decode("latin-1")
        parsed.query = query.decode("latin-1")

    def request_line_too_long(self) -> NoReturn:
        """LimitRequestLine: 414."""
        raise Rejection(414)

    def header_too_large(self, line: RequestLine, what: str) -> NoReturn:
        """LimitRequestFieldSize / LimitRequestFields: 400 with an explanatory note."""
        raise Rejection(400, "field_count" if what == "count" else "field_size")

    def parse_head(self, line: RequestLine, raw_fields: list[bytes], bare_lf: bool) -> Request:
        """ap_get_mime_headers_core (strict) and the checks of ap_read_request."""
        if bare_lf:
            raise Rejection(400)
        pairs: list[list[bytes]] = []
        for raw in raw_fields:
            if raw[:1] in (b" ", b"\t"):
                if not pairs:
                    raise Rejection(400)
                pairs[-1][1] += b" " + raw.strip(b" \t")
                continue
            colon = raw.find(b":")
            name = raw[:colon]
            if colon <= 0 or any(c not in TOKEN_CHARS for c in name):
                raise Rejection(400)
            pairs.append([name, raw[colon + 1 :].strip(b" \t")])
        headers: list[tuple[str, str]] = []
        fields: dict[str, str] = {}
        for name, value in pairs:
            if any((c < 0x20 and c != 0x09) or c == 0x7F for c in value):
                raise Rejection(400)
            key, text = name.decode("latin-1"), value.decode("latin-1")
            headers.append((key, text))
            lower = key.lower()
            merged = fields[lower] + ", " + text if lower in fields else text
            if len(key) + 2 + len(merged) > self.limits.header_line - 2:
                raise Rejection(400, "field_size")
            fields[lower] = merged
        request = Request(line, headers, fields, "", line.query)
        self._check(request)
        return request

    def _check(self, request: Request) -> None:
        line, fields = request.line, request.fields
        authority = line.uri_host if line.uri_host is not None else fields.get("host")
        if authority is not None:
            parsed = host_and_port(authority)
            if parsed is None:
                raise Rejection(400)
            request.host, request.host_port = parsed
        elif line.version >= (1, 1):
            raise Rejection(400)
        encoding = fields.get("transfer-encoding")
        length = fields.get("content-length")
        if encoding is not None:
            if encoding.split(",")[-1].strip().lower() != "chunked":
                raise Rejection(400)
            if length is not None:
                fields.pop("content-length")
                request.keep_alive = False
        elif length is not None and not is_number(length):
            raise Rejection(400)
        request.keep_alive = request.keep_alive and self.keep_alive_wanted(
            line, fields.get("connection")
        )
        self.files.locate(request)
        expect = fields.get("expect")
        if expect and expect.lower() != "100-continue":
            request.problem = 417  # ap_read_request: die before the hooks, no Connection header

    def body_framing(self, request: Request) -> BodyFraming:
        """Chunked or Content-Length; over LimitRequestBody is answered 413 after the head."""
        if "transfer-encoding" in request.fields:
            return BodyFraming(length=None, chunked=True)
        length = int(request.fields.get("content-length") or 0)
        expect = request.fields.get("expect")
        if expect is not None and expect.lower() == "100-continue" and not length:
            request.keep_alive = False
        if self.limits.body and length > self.limits.body:
            request.problem = 413
            return NO_BODY
        return BodyFraming(length=length) if length else NO_BODY

    def interim(self, request: Request) -> bytes:
        """ap_http_filter sends 100 Continue when the body is first read."""
        expect = request.fields.get("expect")
        if (
            expect is not None
            and expect.lower() == "100-continue"
            and request.line.version >= (1, 1)
        ):
            return b"HTTP/1.1 100 Continue\r\n\r\n"
        return b""

    # -- answering -------------------------------------------------------------------------

    def respond(self, request: Request, conn: ConnectionState) -> Response:
        """The default handler's answer, after the core's checks."""
        return self.files.respond(request, conn)

    def connection_headers(
        self, request: Request | None, conn: ConnectionState, status: int, *, length_known: bool
    ) -> tuple[list[tuple[str, str]], bool]:
        """ap_set_keepalive: Keep-Alive/Connection headers and whether the connection stays."""
        keep = (
            request is not None
            and request.keep_alive
            and status not in DROPS_CONNECTION
            and conn.served < self.keepalive_requests
            and (length_known or request.line.version >= (1, 1))
        )
        if not keep:
            return [("Connection", "close")], False
        assert request is not None
        if request.line.version >= (1, 1):
            return [], True
        left = self.keepalive_requests - conn.served + 1
        timeout = int(self.timeouts.keepalive)
        return [
            ("Keep-Alive", f"timeout={timeout}, max={left}"),
            ("Connection", "Keep-Alive"),
        ], True

    def error(
        self,
        status: int,
        request: Request | None,
        conn: ConnectionState,
        *,
        line: RequestLine | None = None,
        notes: str = "",
        allow: str | None = None,
        location: str | None = None,
    ) -> Response:
        """ap_send_error_response: the canned page with the server signature."""
        line = request.line if request is not None else line
        if request is not None and request.host is not None:
            host, port = request.host, request.host_port or self.port
        else:
            host, port = self.server_name, self.port
        method = line.method if line is not None else "GET"
        values = {
            "status": str(status),
            "reason": self.reason(status),
            "method": html_escape(method),
            "notes": html_escape(notes),
            "admin": html_escape(self.admin),
            "expect": html_escape(request.fields.get("expect", "")) if request else "",
            "host": html_escape(host),
            "port": str(port),
            "location": html_escape(location or ""),
        }
        values["message"] = self.messages[status].render(values).decode("latin-1")
        values["signature"] = self.signature.render(values).decode("latin-1")
        body = self.page.render(values)
        head = line is not None and line.method == "HEAD"
        http09 = line is not None and line.http09
        headers = [("Date", conn.date), ("Server", self.server_header)]
        if location is not None:
            headers.append(("Location", location))
        if allow is not None:
            headers.append(("Allow", allow))
        chunk = status == 416 and line is not None and line.version >= (1, 1)
        if chunk and not head:
            headers.append(("Transfer-Encoding", "chunked"))
            body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        elif not head and status != 416:
            headers.append(("Content-Length", str(len(body))))
        extra, keep = self.connection_headers(request, conn, status, length_known=status != 416)
        if status != 417:  # ap_die before the hooks: ap_set_keepalive never runs
            headers += extra
        headers.append(("Content-Type", "text/html; charset=iso-8859-1"))
        return Response(
            status,
            self.reason(status),
            headers,
            body,
            keep_alive=keep and not http09,
            send_body=not head,
            http09=http09,
            drain=status == 413,
        )

    def body_rejected(
        self, rejection: Rejection, request: Request, conn: ConnectionState
    ) -> Response:
        """A bad chunk found by the handler's body read: the page names the Host, no length."""
        if rejection.status != 400:
            return super().body_rejected(rejection, request, conn)
        response = self.error(400, request, conn)
        response.headers = [h for h in response.headers if h[0] != "Content-Length"]
        return response

    def reject(
        self, status: int, variant: str, line: RequestLine | None, conn: ConnectionState
    ) -> Response:
        """Errors found while reading the head are signed with the ServerName."""
        return self.error(status, None, conn, line=line, notes=self.notes.get(variant, ""))

    def on_timeout(
        self, stage: str, line: RequestLine | None, request: Request | None, conn: ConnectionState
    ) -> Response | None:
        """mod_reqtimeout: silence before a full request line, 408 after it."""
        if stage == "line":
            return None
        return self.error(408, request, conn, line=line)

    def static(self, request: Request, found: StaticFile, conn: ConnectionState) -> Response:
        """An existing file under the DocumentRoot, through the core's and handler's checks."""
        if not request.problem:
            request.target = ("file", found)
        return self.files.respond(request, conn)

    def dynamic(self, request: Request, page: DynamicResponse, conn: ConnectionState) -> Response:
        """A generated page with httpd's header order (as mod_php or a CGI would get).

        A redirect without a body gets httpd's canned page (as mod_dir's 301 does).
        """
        location = dict(page.extra_headers).get("Location")
        if location is not None and not page.body and page.status in self.messages:
            return self.error(page.status, request, conn, location=location)
        return self.files.dynamic(request, page, conn)
