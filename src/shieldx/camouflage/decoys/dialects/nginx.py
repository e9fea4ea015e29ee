"""How nginx reads a request (ngx_http_parse.c, ngx_http_request.c) as its Debian default site
shows it; what it answers is in nginx_responses."""

from __future__ import annotations

import re
from typing import NoReturn

from ..messages import Rejection, Request, RequestLine
from .base import NO_BODY, BodyFraming
from .common import (
    AboveRoot,
    BadEscape,
    is_number,
    normalize_path,
    percent_decode,
)
from .nginx_responses import NginxResponses
from .uris import split_absolute, split_line

_METHOD_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ_-")
_UNIQUE = ("host", "content-length", "transfer-encoding")
# The same sets as regular expressions (the per-header hot path).
_VALID_NAME = re.compile(rb"[A-Za-z0-9-]+")
_CONTROL = re.compile(rb"[\x00-\x20\x7f]")


def _validate_host(host: str) -> str | None:
    """ngx_http_validate_host: the host without port and trailing dot, or None if invalid."""
    dot_pos = -2
    host_len = len(host)
    state = "usual"
    for i, ch in enumerate(host):
        if ch == ".":
            if dot_pos == i - 1:
                return None
            dot_pos = i
        elif ch == ":":
            if state == "usual":
                host_len = i
                state = "rest"
        elif ch == "[":
            if i == 0:
                state = "literal"
        elif ch == "]":
            if state == "literal":
                host_len = i + 1
                state = "rest"
        elif ch in "/\\" or ord(ch) <= 0x20 or ord(ch) == 0x7F:
            return None
    if dot_pos == host_len - 1:
        host_len -= 1
    return host[:host_len].lower() if host_len > 0 else None


class NginxDialect(NginxResponses):
    """nginx 1.2x: lenient request line, strict headers, error pages with the version tail."""

    name = "nginx"
    respond_before_body = True
    header_timeout_per_read = True

    def parse_request_line(self, line: bytes) -> RequestLine:
        """ngx_http_parse_request_line plus the URI checks done right after it."""
        method, target, version, rest_ok = split_line(line, multiple_spaces=True)
        if not method or not rest_ok or any(c not in _METHOD_CHARS for c in method):
            raise Rejection(400)
        if not target or any(c < 0x21 or c == 0x7F for c in target):
            raise Rejection(400)
        first = target[0] | 0x20
        if target[0] != 0x2F and not 0x61 <= first <= 0x7A:
            raise Rejection(400)  # sw_spaces_before_uri: a path or a scheme, nothing else
        if version is None:
            if method != b"GET":
                raise Rejection(400, http09=True)
            parsed = RequestLine("GET", target.decode("latin-1"), (0, 9), "")
        else:
            parsed = RequestLine(
                method.decode("latin-1"), target.decode("latin-1"), *self._version(version)
            )
        self._uri(parsed, target)
        return parsed

    @staticmethod
    def _version(text: bytes) -> tuple[tuple[int, int], str]:
        major_text, dot, minor_text = text[5:].partition(b".")
        if (
            not text.startswith(b"HTTP/")
            or not dot
            or not major_text.isdigit()
            or not minor_text.isdigit()
            or major_text[:1] == b"0"
            or len(major_text) > 2
            or int(minor_text) > 99
        ):
            raise Rejection(400)
        major, minor = int(major_text), int(minor_text)
        if major > 1:
            raise Rejection(505)
        return (major, minor), text.decode("latin-1")

    def _uri(self, parsed: RequestLine, target: bytes) -> None:
        if target[:1] != b"/":
            host, target = split_absolute(target)
            if host is None:
                raise Rejection(400, http09=parsed.http09)
            parsed.uri_host = _validate_host(host.decode("latin-1"))
            if parsed.uri_host is None:
                raise Rejection(400, http09=parsed.http09)
        raw_path, _, query = target.partition(b"?")
        raw_path = raw_path.split(b"#", 1)[0]
        try:
            path = normalize_path(percent_decode(raw_path))
        except (BadEscape, AboveRoot):
            raise Rejection(400, http09=parsed.http09) from None
        if b"\x00" in path:
            raise Rejection(400, http09=parsed.http09)
        parsed.path = path.decode("latin-1")
        parsed.query = query.decode("latin-1")

    def line_prefix_invalid(self, partial: bytes) -> bool:
        """sw_start and sw_method: a byte that cannot begin a request is refused at once."""
        i = 0
        n = len(partial)
        while i < n and partial[i] in (0x0D, 0x0A):
            i += 1
        start = i
        while i < n and partial[i] in _METHOD_CHARS:
            i += 1
        if i == n:
            return False
        if i == start or partial[i] != 0x20:
            return True
        while i < n and partial[i] == 0x20:
            i += 1
        if i == n:
            return False
        first = partial[i] | 0x20
        return partial[i] != 0x2F and not 0x61 <= first <= 0x7A

    def request_line_too_long(self) -> NoReturn:
        """A request line that does not fit a large header buffer is 414."""
        raise Rejection(414)

    def header_too_large(self, line: RequestLine, what: str) -> NoReturn:
        """A header line or section that overflows the buffers is 494 (sent as 400)."""
        raise Rejection(494, http09=line.http09)

    def admit_line(self, state: list[int], length: int, *, first: bool) -> None:
        """client_header_buffer_size 1k, then up to four 8k buffers; a line never spans two."""
        if not state:
            state[:] = [1024, 0, 0]
        size, fill, used = state
        if fill + length <= size:
            state[1] = fill + length
            return
        if length > self.limits.header_line or used >= self.large_buffers:
            raise Rejection(414 if first else 494)
        state[:] = [self.limits.header_line, length, used + 1]

    def parse_head(self, line: RequestLine, raw_fields: list[bytes], bare_lf: bool) -> Request:
        """ngx_http_parse_header_line and ngx_http_process_request_header."""
        headers: list[tuple[str, str]] = []
        fields: dict[str, str] = {}
        for raw in raw_fields:
            first = raw[:1]
            if not first or first[0] <= 0x20 or first[0] == 0x7F or b"\x00" in raw:
                raise Rejection(400)
            colon = raw.find(b":")
            name = raw[:colon] if colon >= 0 else raw
            if _VALID_NAME.fullmatch(name) is None:
                if _CONTROL.search(name):
                    raise Rejection(400)
                continue  # ignore_invalid_headers on
            if colon < 0:
                continue
            key = name.decode("latin-1")
            value = raw[colon + 1 :].strip(b" \t").decode("latin-1")
            lower = key.lower()
            if lower in fields and lower in _UNIQUE:
                raise Rejection(400)
            headers.append((key, value))
            fields.setdefault(lower, value)
        host = fields.get("host")
        valid_host = _validate_host(host) if host is not None else None
        if host is not None and valid_host is None:
            raise Rejection(400)
        if host is None and line.version > (1, 0):
            raise Rejection(400)
        length = fields.get("content-length")
        if length is not None and not is_number(length):
            raise Rejection(400)
        encoding = fields.get("transfer-encoding")
        if encoding is not None:
            if line.version < (1, 1) or (encoding.lower() == "chunked" and length is not None):
                raise Rejection(400)
            if encoding.lower() != "chunked":
                raise Rejection(501)
        if line.method in ("CONNECT", "TRACE"):
            raise Rejection(405)
        connection = (fields.get("connection") or "").lower()
        if "close" in connection:
            keep_alive = False
        elif "keep-alive" in connection:
            keep_alive = True
        else:
            keep_alive = line.version > (1, 0)
        return Request(
            line=line,
            headers=headers,
            fields=fields,
            path=line.path,
            query=line.query,
            host=line.uri_host or valid_host,
            keep_alive=keep_alive,
        )

    def body_framing(self, request: Request) -> BodyFraming:
        """Content-Length or chunked; a declared length over client_max_body_size is 413."""
        if "transfer-encoding" in request.fields:
            return BodyFraming(length=None, chunked=True)
        length = int(request.fields.get("content-length") or 0)
        if self.limits.body and length > self.limits.body:
            request.keep_alive = False
            raise Rejection(413)
        return BodyFraming(length=length) if length else NO_BODY

    # -- answering -------------------------------------------------------------------------
