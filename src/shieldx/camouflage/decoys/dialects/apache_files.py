"""What httpd's default handler, mod_dir, mod_alias and mod_deflate do with a request path."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from ..exchanges import DynamicResponse
from ..httpdate import format_http_date, parse_http_date
from ..messages import ConnectionState, Request, Response
from ..templates import StaticFile, Template
from .common import (
    AboveRoot,
    BadEscape,
    gzip_member,
    is_number,
    normalize_path,
    percent_decode,
)
from .ranges import apache_multipart, apache_ranges

if TYPE_CHECKING:
    from .apache import ApacheDialect

KNOWN_METHODS = frozenset(
    [
        "GET",
        "PUT",
        "POST",
        "DELETE",
        "CONNECT",
        "OPTIONS",
        "TRACE",
        "PATCH",
        "PROPFIND",
        "PROPPATCH",
        "MKCOL",
        "COPY",
        "MOVE",
        "LOCK",
        "UNLOCK",
        "VERSION-CONTROL",
        "CHECKOUT",
        "UNCHECKOUT",
        "CHECKIN",
        "UPDATE",
        "LABEL",
        "REPORT",
        "MKWORKSPACE",
        "MKACTIVITY",
        "BASELINE-CONTROL",
        "MERGE",
        "HEAD",
    ]
)
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-._")
_NAME_MAX = 255
_FORBIDDEN = ("forbidden",)
_MISSING = ("missing",)
#: MaxRanges, MaxRangeOverlaps, MaxRangeReversals (httpd's defaults): beyond them, the whole file.
_MAX_RANGES = 200
_MAX_OVERLAPS = 20
_MAX_REVERSALS = 20


def host_and_port(value: str) -> tuple[str, int | None] | None:
    """fix_hostname: lower-cased host without trailing dots and the port, or None if invalid."""
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        host, rest = value[: end + 1].lower(), value[end + 1 :]
        if rest and not rest.startswith(":"):
            return None
        port_text = rest[1:]
        has_port = bool(rest)
    else:
        host, sep, port_text = value.partition(":")
        host = host.lower().rstrip(".")
        has_port = bool(sep)
        if not host or ".." in host or any(c not in _HOST_CHARS for c in host):
            return None
    if has_port and not is_number(port_text):
        return None
    return host, int(port_text) if has_port else None


def _accepts_gzip(value: str | None) -> bool:
    if not value:
        return False
    for token in value.split(","):
        name, _, params = token.strip().partition(";")
        if name.strip().lower() in ("gzip", "x-gzip"):
            q = params.strip().lower()
            return not (q.startswith("q=") and q[2:].strip().strip("0.") == "")
    return False


class ApacheFiles:
    """Maps request paths to the template's files and answers like the default handler."""

    def __init__(self, dialect: ApacheDialect, template: Template) -> None:
        self.dialect = dialect
        self.files = template.files
        self.dirs = {str(d) for d in template.config.get("directories", ["/"])}
        self.index = [str(n) for n in template.config.get("index", [])]
        self.deflate = frozenset(str(t) for t in template.config.get("deflate_types", []))
        self._gzipped: dict[tuple[str, float, int], bytes] = {}
        #: The multipart boundary: a random 64-bit number in hex, fixed for the life of the server process.
        self.boundary = f"{secrets.randbits(64):x}"

    # -- routing ---------------------------------------------------------------------------

    def locate(self, request: Request) -> None:
        """Decode and normalize the path (ap_unescape_url, ap_getparents) and resolve it."""
        raw = request.line.path
        if raw in ("*", ""):
            request.path = raw
            return
        data = raw.encode("latin-1")
        try:
            decoded = percent_decode(data)
        except BadEscape:
            request.problem = 400
            return
        request.path = decoded.decode("latin-1")
        lowered = data.lower()
        if b"%2f" in lowered or b"%00" in lowered:  # AllowEncodedSlashes Off
            request.problem = 404
            return
        try:
            request.path = normalize_path(decoded).decode("latin-1")
        except AboveRoot:
            request.problem = 400
            return
        request.target = self._walk(request.path)

    def _walk(self, path: str) -> tuple[object, ...]:
        if path == "/server-status" or path.startswith("/server-status/"):
            return _FORBIDDEN  # mod_status: Require local
        segments = path.split("/")[1:]
        current = "/"
        for i, segment in enumerate(segments):
            if segment == "":
                break
            if segment.startswith(".ht"):
                return _FORBIDDEN
            found = self.files.get(current + segment)
            if found is not None:
                return ("file", found) if i == len(segments) - 1 else _MISSING
            if current + segment + "/" in self.dirs and i < len(segments) - 1:
                current += segment + "/"
                continue
            if len(segment.encode("latin-1")) > _NAME_MAX:
                return _FORBIDDEN
            return _MISSING
        for name in self.index:
            found = self.files.get(current + name)
            if found is not None:
                return ("file", found)
        return ("directory", current)

    # -- answering -------------------------------------------------------------------------

    def respond(self, request: Request, conn: ConnectionState) -> Response:
        """The request's answer, checks in httpd's order."""
        d = self.dialect
        if request.problem:
            return d.error(request.problem, request, conn)
        method = request.line.method
        if method == "TRACE":
            return d.error(405, request, conn, allow="")
        if method not in KNOWN_METHODS:
            return d.error(501, request, conn, allow=d.allow)
        if request.path == "*":
            return self._options(request, conn, None, star=True)
        target = request.target or _MISSING
        if target[0] == "forbidden":
            return d.error(403, request, conn)
        found = target[1] if target[0] == "file" else None
        if method == "OPTIONS":
            assert found is None or isinstance(found, StaticFile)
            return self._options(request, conn, found)
        if method not in ("GET", "HEAD", "POST"):
            return d.error(405, request, conn, allow=d.allow)
        if target[0] == "missing":
            return d.error(404, request, conn)
        if not isinstance(found, StaticFile):
            return d.error(403, request, conn)
        return self._file(found, request, conn)

    def _options(
        self, request: Request, conn: ConnectionState, found: StaticFile | None, star: bool = False
    ) -> Response:
        d = self.dialect
        headers = [("Date", conn.date), ("Server", d.server_header)]
        if not star:
            headers.append(("Allow", d.allow))
        headers.append(("Content-Length", "0"))
        extra, keep = d.connection_headers(request, conn, 200, length_known=True)
        headers += extra
        if found is not None:
            headers += _content_type(found.content_type)
        elif not star and request.target is not None and request.target[0] == "directory":
            headers.append(("Content-Type", "httpd/unix-directory"))
        return Response(200, d.reason(200), headers, b"", keep_alive=keep)

    def _gzip(self, found: StaticFile) -> bytes:
        key = (found.path, found.mtime, len(found.body))
        cached = self._gzipped.get(key)
        if cached is None:
            cached = gzip_member(found.body, level=6, wbits=15, memlevel=9, xfl=0)
            if len(self._gzipped) >= 256:
                self._gzipped.clear()
            self._gzipped[key] = cached
        return cached

    def _file(self, found: StaticFile, request: Request, conn: ConnectionState) -> Response:
        d = self.dialect
        fields = request.fields
        mtime = int(found.mtime)
        etag = f'"{len(found.body):x}-{int(found.mtime * 1_000_000):x}"'
        last_modified = format_http_date(mtime)
        compressible = found.content_type in self.deflate
        gzip = compressible and _accepts_gzip(fields.get("accept-encoding"))
        base = [
            ("Date", conn.date),
            ("Server", d.server_header),
            ("Last-Modified", last_modified),
            ("ETag", etag[:-1] + '-gzip"' if gzip else etag),
            ("Accept-Ranges", "bytes"),
        ]
        precondition = self._precondition(fields, mtime, etag, conn.date)
        if precondition == 412:
            extra, keep = d.connection_headers(request, conn, 412, length_known=True)
            headers = [*base, ("Content-Length", "0"), *extra, *_content_type(found.content_type)]
            return Response(412, d.reason(412), headers, b"", keep_alive=keep)
        if precondition == 304:
            extra, keep = d.connection_headers(request, conn, 304, length_known=True)
            return Response(304, d.reason(304), [*base, *extra], b"", keep_alive=keep)
        body = self._gzip(found) if gzip else found.body
        status, ranged = 200, []
        ctype = found.content_type
        wanted = fields.get("range") or fields.get("request-range")
        if (
            wanted is not None
            and wanted[:6].lower() == "bytes="
            and request.line.method != "POST"
            and not request.line.http09
            and self._if_range(fields, mtime, etag, conn.date)
        ):
            spans, overlaps, reversals = apache_ranges(wanted, len(body))
            if spans is False:
                return d.error(416, request, conn)
            if isinstance(spans, list) and (
                len(spans) > _MAX_RANGES or overlaps > _MAX_OVERLAPS or reversals > _MAX_REVERSALS
            ):
                spans = None
            if isinstance(spans, list) and len(spans) == 1:
                first, last = spans[0]
                status = 206
                ranged = [("Content-Range", f"bytes {first}-{last}/{len(body)}")]
                body = body[first : last + 1]
            elif isinstance(spans, list):
                status = 206
                kind = "multipart/x-byteranges" if "range" not in fields else "multipart/byteranges"
                body = apache_multipart(body, spans, self.boundary, ctype)
                ctype = f"{kind}; boundary={self.boundary}"
        length = ("Content-Length", str(len(body)))
        if gzip:
            headers = [*base, ("Vary", "Accept-Encoding"), ("Content-Encoding", "gzip"), *ranged]
            headers.append(length)
        else:
            headers = [*base, length]
            if compressible:
                headers.append(("Vary", "Accept-Encoding"))
            headers += ranged
        extra, keep = d.connection_headers(request, conn, status, length_known=True)
        headers += extra
        headers += _content_type(ctype)
        return d.answer(request, status, headers, body, keep)

    @staticmethod
    def _if_range(fields: dict[str, str], mtime: int, etag: str, date: str) -> bool:
        """ap_condition_if_range: a strong ETag equal to ours, or exactly our (old enough) date."""
        condition = fields.get("if-range")
        if condition is None:
            return True
        if condition.startswith('"'):
            return condition == etag
        when = parse_http_date(condition)
        now = parse_http_date(date)
        return when is not None and when == mtime and (now is None or mtime < now)

    @staticmethod
    def _precondition(fields: dict[str, str], mtime: int, etag: str, date: str) -> int:
        """ap_meets_conditions: 412, 304 or 0 (serve)."""
        match = fields.get("if-match")
        if match is not None and match.strip() != "*" and etag not in _tags(match):
            return 412
        unmodified = fields.get("if-unmodified-since")
        if match is None and unmodified is not None:
            when = parse_http_date(unmodified)
            if when is not None and mtime > when:
                return 412
        none_match = fields.get("if-none-match")
        if none_match is not None:
            weak = etag.removeprefix("W/")
            tags = [t.removeprefix("W/") for t in _tags(none_match)]
            return 304 if none_match.strip() == "*" or weak in tags else 0
        since = fields.get("if-modified-since")
        if since is not None:
            when = parse_http_date(since)
            now = parse_http_date(date)
            if when is not None and when >= mtime and (now is None or when <= now):
                return 304
        return 0

    def dynamic(self, request: Request, page: DynamicResponse, conn: ConnectionState) -> Response:
        """A generated page (as a PHP or CGI handler's answer comes out of httpd)."""
        d = self.dialect
        ctype = page.content_type
        compressible = ctype.split(";")[0].strip() in self.deflate
        gzip = compressible and _accepts_gzip(request.fields.get("accept-encoding"))
        body = gzip_member(page.body, level=6, wbits=15, memlevel=9, xfl=0) if gzip else page.body
        headers = [("Date", conn.date), ("Server", d.server_header), *page.extra_headers]
        if compressible:
            headers.append(("Vary", "Accept-Encoding"))
        if gzip:
            headers.append(("Content-Encoding", "gzip"))
        headers.append(("Content-Length", str(len(body))))
        extra, keep = d.connection_headers(request, conn, page.status, length_known=True)
        headers += extra
        headers.append(("Content-Type", ctype))
        return d.answer(request, page.status, headers, body, keep)


def _content_type(value: str) -> list[tuple[str, str]]:
    """The Content-Type header, or none for a file mod_mime has no type for."""
    return [("Content-Type", value)] if value else []


def _tags(value: str) -> list[str]:
    return [t.strip() for t in value.split(",") if t.strip()]
