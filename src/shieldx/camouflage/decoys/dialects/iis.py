"""Microsoft IIS 10.0 behind HTTP.sys: the kernel driver refuses malformed requests with its own
``Microsoft-HTTPAPI/2.0`` pages; IIS answers the rest with its static file handler, default
documents, request filtering and the custom error pages remote clients see."""

from __future__ import annotations

from typing import NoReturn

from ..exchanges import DynamicResponse
from ..httpdate import format_http_date, parse_http_date
from ..messages import ConnectionState, Rejection, Request, RequestLine, Response
from ..templates import PageTemplate, StaticFile, Template
from .base import NO_BODY, BodyFraming, Dialect
from .common import (
    TOKEN_CHARS,
    AboveRoot,
    BadEscape,
    is_number,
    normalize_path,
    percent_decode,
)
from .uris import split_absolute

_SLOTS = ("title", "detail", "heading", "status", "message")
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-._[]:")
_STATIC_ALLOW = "GET, HEAD, OPTIONS, TRACE"
_OPTIONS_ALLOW = "OPTIONS, TRACE, GET, HEAD, POST"


def iis_etag(filetime: int) -> str:
    """IIS's static-file ETag: the FILETIME bytes (low first) in unpadded hex, then ':0'."""
    return '"' + "".join(f"{b:x}" for b in filetime.to_bytes(8, "little")) + ':0"'


class IisDialect(Dialect):
    """IIS 10.0: HTTP.sys parsing, custom errors, X-Powered-By, case-insensitive paths."""

    name = "iis"
    respond_before_body = False
    header_timeout_per_read = False

    def __init__(self, template: Template, *, server_name: str, port: int) -> None:
        super().__init__(template, server_name=server_name, port=port)
        config = template.config
        self.httpapi_header = str(config["httpapi_header"])
        self.powered_by = str(config.get("powered_by", ""))
        self.custom_page = PageTemplate(
            template.asset(str(config["custom_error_page"])).decode("latin-1"), _SLOTS
        )
        self.custom_errors = {
            int(code): (str(v[0]), str(v[1]))
            for code, v in template.section("custom_errors").items()
        }
        self.httpapi_page = PageTemplate(str(config["httpapi_page"]), _SLOTS)
        self.httpapi_errors = {
            str(key): (int(v[0]), str(v[1]), str(v[2]), str(v[3]))
            for key, v in template.section("httpapi_errors").items()
        }
        limits = template.section("limits")
        self.url_segment = int(limits.get("url_segment", 260))
        self.max_url = int(limits.get("url", 4096))
        self.max_query = int(limits.get("query", 2048))
        self.files = {path.lower(): f for path, f in template.files.items()}
        self.documents = [str(d).lower() for d in config.get("default_documents", [])]
        self.hidden = frozenset(str(s).lower() for s in config.get("hidden_segments", []))

    # -- HTTP.sys --------------------------------------------------------------------------

    def parse_request_line(self, line: bytes) -> RequestLine:
        """HTTP.sys: CRLF, single spaces, a token verb, HTTP/1.x only, a canonical URL."""
        if not line.endswith(b"\r\n"):
            raise Rejection(400, "bad_request")
        parts = line[:-2].split(b" ")
        if len(parts) != 3 or not all(parts):
            raise Rejection(400, "bad_request")
        method, target, proto = parts
        if len(method) > 255 or any(c not in TOKEN_CHARS for c in method):
            raise Rejection(400, "verb")
        if proto not in (b"HTTP/1.1", b"HTTP/1.0"):
            if len(proto) == 8 and proto.startswith(b"HTTP/") and proto[5:6].isdigit():
                raise Rejection(505, "version")
            raise Rejection(400, "bad_request")
        parsed = RequestLine(
            method.decode("latin-1"),
            target.decode("latin-1"),
            (1, proto[7] - 48),
            proto.decode("latin-1"),
        )
        if target != b"*":
            self._url(parsed, target)
        else:
            parsed.path = "*"
        return parsed

    def _url(self, parsed: RequestLine, target: bytes) -> None:
        if not target.startswith(b"/"):
            authority, target = split_absolute(target)
            if authority is None:
                raise Rejection(400, "url")
            parsed.uri_host = authority.decode("latin-1")
        raw_path, _, query = target.partition(b"?")
        if any(c < 0x20 or c == 0x7F for c in target):
            raise Rejection(400, "url")
        try:
            path = normalize_path(percent_decode(raw_path).replace(b"\\", b"/"))
        except (BadEscape, AboveRoot):
            raise Rejection(400, "url") from None
        if b"\0" in path or any(len(seg) > self.url_segment for seg in path.split(b"/")):
            raise Rejection(400, "url")
        parsed.path = path.decode("latin-1")
        parsed.query = query.decode("latin-1")

    def request_line_too_long(self) -> NoReturn:
        """A URL longer than MaxFieldLength."""
        raise Rejection(414, "uri_too_long")

    def header_too_large(self, line: RequestLine, what: str) -> NoReturn:
        """Headers over MaxFieldLength / MaxRequestBytes."""
        raise Rejection(400, "too_long")

    def parse_head(self, line: RequestLine, raw_fields: list[bytes], bare_lf: bool) -> Request:
        """HTTP.sys header checks: names are tokens, Host is required and well formed."""
        if bare_lf:
            raise Rejection(400, "bad_request")
        headers: list[tuple[str, str]] = []
        fields: dict[str, str] = {}
        for raw in raw_fields:
            colon = raw.find(b":")
            name = raw[:colon]
            if colon <= 0 or any(c not in TOKEN_CHARS for c in name):
                raise Rejection(400, "header")
            key = name.decode("latin-1")
            value = raw[colon + 1 :].strip(b" \t").decode("latin-1")
            headers.append((key, value))
            lower = key.lower()
            fields[lower] = fields[lower] + "," + value if lower in fields else value
        host = line.uri_host if line.uri_host is not None else fields.get("host")
        if host is None and line.version >= (1, 1):
            raise Rejection(400, "hostname")
        if host is not None and (not host or any(c not in _HOST_CHARS for c in host.lower())):
            raise Rejection(400, "hostname")
        length = fields.get("content-length")
        if length is not None and not is_number(length):
            raise Rejection(400, "bad_request")
        encoding = fields.get("transfer-encoding")
        if encoding is not None and encoding.lower() != "chunked":
            raise Rejection(501, "transfer_encoding")
        request = Request(line, headers, fields, line.path, line.query, host=host)
        request.keep_alive = self.keep_alive_wanted(line, fields.get("connection"))
        return request

    def body_framing(self, request: Request) -> BodyFraming:
        """Chunked or Content-Length; bodies over maxAllowedContentLength are refused."""
        if "transfer-encoding" in request.fields:
            return BodyFraming(length=None, chunked=True)
        length = int(request.fields.get("content-length") or 0)
        if self.limits.body and length > self.limits.body:
            request.problem = 404
            return NO_BODY
        return BodyFraming(length=length) if length else NO_BODY

    def reject(
        self, status: int, variant: str, line: RequestLine | None, conn: ConnectionState
    ) -> Response:
        """HTTP.sys's own error page, always closing the connection."""
        code, title, heading, message = self.httpapi_errors.get(
            variant or "bad_request", self.httpapi_errors["bad_request"]
        )
        values = {"title": title, "heading": heading, "status": str(code), "message": message}
        body = self.httpapi_page.render(values)
        headers = [
            ("Content-Type", "text/html; charset=us-ascii"),
            ("Server", self.httpapi_header),
            ("Date", conn.date),
            ("Connection", "close"),
            ("Content-Length", str(len(body))),
        ]
        return Response(code, self.reason(code), headers, body, keep_alive=False)

    # -- IIS -------------------------------------------------------------------------------

    def _common(
        self, request: Request, conn: ConnectionState
    ) -> tuple[list[tuple[str, str]], bool]:
        keep = request.keep_alive and conn.served < self.keepalive_requests
        tail = [("Server", self.server_header)]
        if self.powered_by:
            tail.append(("X-Powered-By", self.powered_by))
        tail.append(("Date", conn.date))
        if not keep:
            tail.append(("Connection", "close"))
        elif request.line.version < (1, 1):
            tail.append(("Connection", "keep-alive"))
        return tail, keep

    def error(
        self, status: int, request: Request, conn: ConnectionState, allow: str | None = None
    ) -> Response:
        """A custerr page (what remote clients get from IIS's custom errors)."""
        title, detail = self.custom_errors.get(status, self.custom_errors[500])
        body = self.custom_page.render({"title": title, "detail": detail})
        tail, keep = self._common(request, conn)
        headers = [("Allow", allow)] if allow else []
        headers += [("Content-Type", "text/html"), *tail, ("Content-Length", str(len(body)))]
        return self.answer(request, status, headers, body, keep)

    def respond(self, request: Request, conn: ConnectionState) -> Response:
        """Request filtering, then OPTIONS, default documents and the static file handler."""
        if request.problem:
            return self.error(request.problem, request, conn)
        method = request.line.method
        if method == "OPTIONS":
            tail, keep = self._common(request, conn)
            headers = [("Allow", _OPTIONS_ALLOW), tail[0], ("Public", _OPTIONS_ALLOW), *tail[1:]]
            headers.append(("Content-Length", "0"))
            return Response(200, self.reason(200), headers, b"", keep_alive=keep)
        if method == "TRACE":
            return self.error(501, request, conn)
        path = request.path.lower()
        segments = path.split("/")
        if (
            len(request.line.target) > self.max_url
            or len(request.query) > self.max_query
            or any(seg in self.hidden for seg in segments)
        ):
            return self.error(404, request, conn)
        found = self.files.get(path)
        if found is None and path.endswith("/"):
            found = next(
                (self.files[path + d] for d in self.documents if path + d in self.files), None
            )
        if found is None:
            return self.error(404, request, conn)
        if method not in ("GET", "HEAD"):
            return self.error(405, request, conn, allow=_STATIC_ALLOW)
        return self._file(found, request, conn)

    def _file(self, found: StaticFile, request: Request, conn: ConnectionState) -> Response:
        mtime = int(found.mtime)
        filetime = int(found.attributes.get("filetime", (mtime + 11644473600) * 10_000_000))
        etag = iis_etag(filetime)
        tail, keep = self._common(request, conn)
        validators = [
            ("Last-Modified", format_http_date(mtime)),
            ("Accept-Ranges", "bytes"),
            ("ETag", etag),
        ]
        since = request.fields.get("if-modified-since")
        match = request.fields.get("if-none-match")
        when = parse_http_date(since) if since else None
        if (match is not None and etag in match) or (match is None and when and when >= mtime):
            return Response(304, self.reason(304), [*validators, *tail], keep_alive=keep)
        length = ("Content-Length", str(len(found.body)))
        ctype = ("Content-Type", found.content_type)
        if request.line.method == "HEAD":
            headers = [length, ctype, *validators, *tail]
        else:
            headers = [ctype, *validators, *tail, length]
        return self.answer(request, 200, headers, found.body, keep)

    def static(self, request: Request, found: StaticFile, conn: ConnectionState) -> Response:
        """An existing file: the static file handler (GET and HEAD only)."""
        if request.problem:
            return self.error(request.problem, request, conn)
        if request.line.method not in ("GET", "HEAD"):
            return self.error(405, request, conn, allow=_STATIC_ALLOW)
        return self._file(found, request, conn)

    def internal_error(self, line: RequestLine | None, conn: ConnectionState) -> Response:
        """IIS's 500 custom error page (HTTP.sys's page if the request never parsed)."""
        if line is None:
            return self.reject(400, "bad_request", None, conn)
        request = Request(line, [], {}, line.path, line.query, keep_alive=False)
        return self.error(500, request, conn)

    def dynamic(self, request: Request, page: DynamicResponse, conn: ConnectionState) -> Response:
        """A generated page with IIS's header order (as an ASP.NET page's would be)."""
        tail, keep = self._common(request, conn)
        headers = [("Content-Type", page.content_type), *page.extra_headers, *tail]
        headers.append(("Content-Length", str(len(page.body))))
        return self.answer(request, page.status, headers, page.body, keep)
