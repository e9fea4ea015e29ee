"""What nginx sends: the static and index modules' answers, the not-modified, range and gzip
filters, and ngx_http_special_response_handler's built-in error pages."""

from __future__ import annotations

from ..exchanges import DynamicResponse
from ..httpdate import format_http_date, parse_http_date
from ..messages import ConnectionState, Request, RequestLine, Response
from ..templates import StaticFile, Template
from .base import Dialect
from .common import chunked, gzip_member
from .ranges import nginx_multipart, nginx_ranges

_GZIP_STATUSES = (200, 403, 404)


def _accepts_gzip(value: str) -> bool:
    """ngx_http_gzip_accept_encoding: a 'gzip' token whose q-value is not zero."""
    lower = value.lower()
    if lower.startswith("gzip,"):
        return True
    start = lower.find("gzip")
    while start >= 0:
        before = lower[start - 1] if start else ","
        after = lower[start + 4 : start + 5]
        if before in ", " and after in ("", ",", ";", " "):
            rest = lower[start + 4 :].split(",", 1)[0].replace(" ", "")
            if rest.startswith(";q="):
                q = rest[3:]
                return bool(q) and q.strip("0.") != ""
            return True
        start = lower.find("gzip", start + 1)
    return False


class NginxResponses(Dialect):
    """The answering half of the nginx dialect (the parsing half subclasses it)."""

    def __init__(self, template: Template, *, server_name: str, port: int) -> None:
        super().__init__(template, server_name=server_name, port=port)
        config = template.config
        self.index = [str(name) for name in config.get("index", [])]
        self.error_tail = str(config["error_tail"]).encode("latin-1")
        self.padding = str(config.get("msie_padding", "")).encode("latin-1") * 6
        self.error_heads = {
            int(code): str(head).encode("latin-1")
            for code, head in template.section("error_pages").items()
        }
        gzip = template.section("gzip")
        self.gzip_types = frozenset(str(t) for t in gzip.get("types", []))
        self.gzip_min_length = int(gzip.get("min_length", 20))
        self.gzip_level = int(gzip.get("level", 1))
        self.dirs = {"/"} | {f.path[: f.path.rfind("/") + 1] for f in template.files.values()}
        self._gzipped: dict[bytes, bytes] = {}
        self.large_buffers = int(template.section("limits").get("large_buffers", 4))
        #: ngx_next_temp_number: the multipart boundary counts up per worker process.
        self.boundaries = 0

    def respond(self, request: Request, conn: ConnectionState) -> Response:
        """try_files $uri $uri/ =404, then the index and static modules."""
        path = request.path
        found = self.template.files.get(path)
        if found is None and (path in self.dirs or path + "/" in self.dirs):
            directory = path if path.endswith("/") else path + "/"
            if request.line.method not in ("GET", "HEAD", "POST"):
                return self.error(405, request, conn)
            for name in self.index:
                found = self.template.files.get(directory + name)
                if found is not None:
                    break
            else:
                return self.error(403, request, conn)
        if found is None:
            return self.error(404, request, conn)
        if request.line.method not in ("GET", "HEAD"):
            return self.error(405, request, conn)
        return self._file(found, request, conn)

    def static(self, request: Request, found: StaticFile, conn: ConnectionState) -> Response:
        """An existing file under the root: 405 for other methods, else the static module."""
        if request.line.method not in ("GET", "HEAD"):
            return self.error(405, request, conn)
        return self._file(found, request, conn)

    def _keep(self, request: Request, conn: ConnectionState) -> bool:
        return request.keep_alive and conn.served < self.keepalive_requests

    def _gzip_ok(self, request: Request) -> bool:
        encoding = request.fields.get("accept-encoding")
        return (
            encoding is not None
            and len(encoding) >= 4
            and request.line.version >= (1, 1)
            and "via" not in request.fields
            and _accepts_gzip(encoding)
        )

    def _gzip(self, body: bytes, *, length_known: bool = True) -> bytes:
        """ngx_http_gzip_filter: the window shrinks to a known length (not for a stream)."""
        cached = self._gzipped.get(body) if length_known else None
        if cached is not None:
            return cached
        wbits, memlevel = 15, 8
        while length_known and len(body) < (1 << (wbits - 1)) - 262:
            wbits -= 1
            memlevel -= 1
        data = gzip_member(
            body, level=self.gzip_level, wbits=wbits, memlevel=max(memlevel, 1), xfl=4
        )
        if length_known and len(self._gzipped) < 256:
            self._gzipped[body] = data
        return data

    def _file(self, found: StaticFile, request: Request, conn: ConnectionState) -> Response:
        """The static module's answer; its request-body discard sends 100 Continue first."""
        response = self._static(found, request, conn)
        expect = request.fields.get("expect")
        if (
            expect is not None
            and expect.lower() == "100-continue"
            and request.line.version >= (1, 1)
        ):
            response.preamble = b"HTTP/1.1 100 Continue\r\n\r\n"
        return response

    def _static(self, found: StaticFile, request: Request, conn: ConnectionState) -> Response:
        keep = self._keep(request, conn)
        mtime = int(found.mtime)
        last_modified = format_http_date(mtime)
        etag = f'"{mtime:x}-{len(found.body):x}"'
        connection = "keep-alive" if keep else "close"
        head = request.line.method == "HEAD"
        if self._precondition_failed(request, mtime, etag):
            failed = self.error(412, request, conn)
            failed.keep_alive = False  # ngx_http_filter_finalize_request closes after the page
            return failed
        if self._not_modified(request, mtime, etag):
            return Response(
                304,
                self.reason(304),
                [
                    ("Server", self.server_header),
                    ("Date", conn.date),
                    ("Last-Modified", last_modified),
                    ("Connection", connection),
                    ("ETag", etag),
                ],
                keep_alive=keep,
                send_body=False,
            )
        base = [("Server", self.server_header), ("Date", conn.date)]
        ctype = ("Content-Type", found.content_type)
        if (
            found.content_type in self.gzip_types
            and len(found.body) >= self.gzip_min_length
            and self._gzip_ok(request)
        ):
            framing = [] if head else [("Transfer-Encoding", "chunked")]
            return Response(
                200,
                self.reason(200),
                [
                    *base,
                    ctype,
                    ("Last-Modified", last_modified),
                    *framing,
                    ("Connection", connection),
                    ("ETag", "W/" + etag),
                    ("Content-Encoding", "gzip"),
                ],
                b"" if head else chunked([self._gzip(found.body)]),
                keep_alive=keep,
                send_body=not head,
                http09=request.line.http09,
            )
        status, body, extra = 200, found.body, []
        ctype_header = ctype
        wanted = request.fields.get("range")
        if (
            wanted is not None
            and len(wanted) >= 7
            and wanted[:6].lower() == "bytes="
            and self._if_range(request, mtime, etag)
        ):
            spans = nginx_ranges(wanted, len(found.body))
            if spans is False:
                return self.error(416, request, conn, [("Content-Range", f"bytes */{len(body)}")])
            if isinstance(spans, list) and len(spans) == 1:
                first, last = spans[0]
                status, body = 206, body[first : last + 1]
                extra = [("Content-Range", f"bytes {first}-{last}/{len(found.body)}")]
            elif isinstance(spans, list):
                self.boundaries += 1
                boundary = f"{self.boundaries:020d}"
                status = 206
                body = nginx_multipart(found.body, spans, boundary, found.content_type)
                ctype_header = ("Content-Type", f"multipart/byteranges; boundary={boundary}")
                extra = [("", "")]
        headers = [
            *base,
            ctype_header,
            ("Content-Length", str(len(body))),
            ("Last-Modified", last_modified),
            ("Connection", connection),
            ("ETag", etag),
            *(extra or [("Accept-Ranges", "bytes")]),
        ]
        return Response(
            status,
            self.reason(status),
            [h for h in headers if h[0]],
            body,
            keep_alive=keep,
            send_body=not head,
            http09=request.line.http09,
        )

    @staticmethod
    def _precondition_failed(request: Request, mtime: int, etag: str) -> bool:
        unmodified = request.fields.get("if-unmodified-since")
        if unmodified is not None and (parse_http_date(unmodified) or -1) < mtime:
            return True
        match = request.fields.get("if-match")
        if match is None or match.strip() == "*":
            return False
        return etag not in [t.strip() for t in match.split(",")]

    @staticmethod
    def _not_modified(request: Request, mtime: int, etag: str) -> bool:
        since = request.fields.get("if-modified-since")
        match = request.fields.get("if-none-match")
        if since is None and match is None:
            return False
        if since is not None and parse_http_date(since) != mtime:
            return False
        if match is not None:
            tags = [t.strip().removeprefix("W/") for t in match.split(",")]
            return match.strip() == "*" or etag in tags
        return True

    @staticmethod
    def _if_range(request: Request, mtime: int, etag: str) -> bool:
        condition = request.fields.get("if-range")
        if condition is None:
            return True
        if len(condition) >= 2 and condition.endswith('"'):
            return condition == etag
        return parse_http_date(condition) == mtime

    def error(
        self,
        status: int,
        request: Request | None,
        conn: ConnectionState,
        extra: list[tuple[str, str]] | None = None,
        *,
        keep_alive: bool | None = None,
        line: RequestLine | None = None,
        location: str | None = None,
    ) -> Response:
        """ngx_http_special_response_handler: nginx's built-in page for a status."""
        line = request.line if request is not None else line
        if keep_alive is None:
            keep_alive = request is not None and self._keep(request, conn)
        if status in (400, 413, 414, 494, 500, 501):
            keep_alive = False
        body = self.error_heads.get(status, b"") + self.error_tail
        user_agent = request.fields.get("user-agent", "") if request is not None else ""
        if self.padding and _msie_or_chrome(user_agent) and line is not None:
            body += self.padding
        wire_status = 400 if status == 494 else status
        head = line is not None and line.method == "HEAD"
        headers = [("Server", self.server_header), ("Date", conn.date)]
        gzip = (
            request is not None
            and status in _GZIP_STATUSES
            and "text/html" in self.gzip_types
            and self._gzip_ok(request)
        )
        if gzip:
            headers.append(("Content-Type", "text/html"))
            if not head:
                headers.append(("Transfer-Encoding", "chunked"))
                body = chunked([self._gzip(body)])
        else:
            headers += [("Content-Type", "text/html"), ("Content-Length", str(len(body)))]
        if location is not None:
            headers.append(("Location", location))
        headers.append(("Connection", "keep-alive" if keep_alive else "close"))
        if gzip:
            headers.append(("Content-Encoding", "gzip"))
        headers += extra or []
        return Response(
            wire_status,
            self.reason(wire_status),
            headers,
            body,
            keep_alive=keep_alive,
            send_body=not head,
            http09=line is not None and line.http09,
        )

    def reject(
        self, status: int, variant: str, line: RequestLine | None, conn: ConnectionState
    ) -> Response:
        """Errors found while reading the head: the error page and Connection: close."""
        response = self.error(status, None, conn, keep_alive=False, line=line)
        response.drain = status == 413
        return response

    def dynamic(self, request: Request, page: DynamicResponse, conn: ConnectionState) -> Response:
        """A generated page with nginx's header order (as for a proxied or FastCGI answer).

        A redirect without a body gets nginx's own page, as the static module sends it.
        """
        location = dict(page.extra_headers).get("Location")
        if location is not None and not page.body and page.status in self.error_heads:
            return self.error(page.status, request, conn, location=location)
        keep = self._keep(request, conn)
        headers = [("Server", self.server_header), ("Date", conn.date)]
        headers.append(("Content-Type", page.content_type))
        body = page.body
        gzip = (
            page.status in _GZIP_STATUSES
            and page.content_type.split(";")[0].strip() in self.gzip_types
            and request.line.method != "HEAD"
            and len(body) >= self.gzip_min_length
            and self._gzip_ok(request)
        )
        if gzip:
            headers.append(("Transfer-Encoding", "chunked"))
            body = chunked([self._gzip(body, length_known=page.length_known)])
        elif page.length_known:
            headers.append(("Content-Length", str(len(body))))
        elif request.line.method == "HEAD":
            pass  # header only: neither a length nor chunks
        elif request.line.version >= (1, 1):
            headers.append(("Transfer-Encoding", "chunked"))
            body = chunked([body])
        else:
            keep = False  # HTTP/1.0 without a length: the end of the body is the close
        headers.append(("Connection", "keep-alive" if keep else "close"))
        headers += list(page.extra_headers)
        if gzip:
            headers.append(("Content-Encoding", "gzip"))
        return self.answer(request, page.status, headers, body, keep)


def _msie_or_chrome(user_agent: str) -> bool:
    """nginx's browser sniffing for msie_padding: MSIE (not Opera), or Chrome but not Gecko/."""
    if not user_agent or "Opera" in user_agent:
        return False
    msie = user_agent.find("MSIE ")
    if msie >= 0 and msie + 7 < len(user_agent):
        return True
    return "Gecko/" not in user_agent and "Chrome/" in user_agent
