"""Turning one connection's exchanges into DecoyExchange records for the observer."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import unquote_to_bytes

from .exchanges import (
    MAX_RECORDED_HEADER_VALUE,
    MAX_RECORDED_HEADERS,
    DecoyExchange,
)
from .messages import ConnectionState, Request, RequestLine

if TYPE_CHECKING:
    from .server import DecoySite

log = logging.getLogger(__name__)

_MAX_TARGET = 8192


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _loose_headers(raw_fields: list[bytes]) -> tuple[tuple[tuple[str, str], ...], bool]:
    """Split header lines for the record even when the server refused them."""
    out: list[tuple[str, str]] = []
    for raw in raw_fields[:MAX_RECORDED_HEADERS]:
        name, _, value = raw.partition(b":")
        out.append((name.strip().decode("latin-1"), _cap(value.strip().decode("latin-1"))))
    return tuple(out), len(raw_fields) > MAX_RECORDED_HEADERS


def _cap(value: str) -> str:
    return value if len(value) <= MAX_RECORDED_HEADER_VALUE else value[:MAX_RECORDED_HEADER_VALUE]


class ExchangeRecorder:
    """Collects what one exchange on a connection did and reports it once."""

    __slots__ = ("bytes_sent", "conn", "raw_fields", "raw_line", "site", "started", "status", "t0")

    def __init__(self, site: DecoySite, conn: ConnectionState) -> None:
        self.site = site
        self.conn = conn
        self._reset()

    def _reset(self) -> None:
        self.started = False
        self.t0 = 0.0
        self.raw_line: bytes | None = None
        self.raw_fields: list[bytes] = []
        self.status = 0
        self.bytes_sent = 0

    def start(self) -> None:
        """The first byte of a request arrived."""
        self.started = True
        self.t0 = self.site.clock.now()

    def sent(self, status: int, nbytes: int) -> None:
        """Bytes of the answer went out."""
        if not self.status:
            self.status = status
        self.bytes_sent += nbytes

    def finish(self, request: Request | None, reason: str = "") -> None:
        """An accepted request was answered."""
        if request is None:
            self._reset()
            return
        line = request.line
        headers = tuple(
            (name, _cap(value)) for name, value in request.headers[:MAX_RECORDED_HEADERS]
        )
        self._emit(
            method=line.method,
            target=line.target,
            path=_text(line.path.encode("latin-1")),
            query=line.query,
            version=line.version_text or "HTTP/0.9",
            headers=headers,
            truncated=len(request.headers) > MAX_RECORDED_HEADERS,
            body=request.body,
            body_length=request.body_length,
            malformed=False,
            reason=reason,
        )

    def rejected(
        self, line: RequestLine | None, pending: bytes, status: int, reason: str = "rejected"
    ) -> None:
        """A request the server refused (or one that broke something)."""
        if not self.started and line is None and not pending:
            return
        self.status = self.status or status
        self._malformed(line, pending, reason)

    def partial(self, line: RequestLine | None, pending: bytes, reason: str) -> None:
        """A request cut short by the client or a timeout."""
        if not self.started and line is None and not pending:
            return
        self._malformed(line, pending, reason)

    def _malformed(self, line: RequestLine | None, pending: bytes, reason: str) -> None:
        raw_line = self.raw_line if self.raw_line is not None else pending.split(b"\n", 1)[0]
        headers, truncated = _loose_headers(self.raw_fields)
        if line is not None:
            method, target = line.method, line.target
            path = _text(line.path.encode("latin-1")) if line.path else ""
            query, version = line.query, line.version_text or "HTTP/0.9"
        else:
            parts = raw_line.rstrip(b"\r\n").split(b" ")
            method = parts[0].decode("latin-1")[:64] if len(parts) > 1 else ""
            target = raw_line.rstrip(b"\r\n").decode("latin-1")[:_MAX_TARGET]
            raw_path = parts[1].split(b"?", 1)[0] if len(parts) > 1 else b""
            path = _text(unquote_to_bytes(raw_path))[:_MAX_TARGET]
            query, version = "", parts[2].decode("latin-1")[:32] if len(parts) > 2 else ""
        self._emit(
            method=method,
            target=target,
            path=path,
            query=query,
            version=version,
            headers=headers,
            truncated=truncated,
            body=b"",
            body_length=0,
            malformed=True,
            reason=reason,
        )

    def _emit(
        self,
        *,
        method: str,
        target: str,
        path: str,
        query: str,
        version: str,
        headers: tuple[tuple[str, str], ...],
        truncated: bool,
        body: bytes,
        body_length: int,
        malformed: bool,
        reason: str,
    ) -> None:
        site = self.site
        stats = site.stats
        stats.requests += 1
        if malformed:
            stats.malformed += 1
        observer = site.options.observer
        if observer is not None:
            exchange = DecoyExchange(
                time=self.t0 or site.clock.now(),
                decoy=site.name,
                template=site.template_name,
                peer_host=self.conn.peer_host,
                peer_port=self.conn.peer_port,
                method=method,
                target=target,
                path=path,
                query=query,
                http_version=version,
                headers=headers,
                headers_truncated=truncated,
                body=body,
                body_length=body_length,
                status=self.status,
                bytes_sent=self.bytes_sent,
                malformed=malformed,
                reason=reason,
                connection_requests=self.conn.served,
                ja4=self.conn.ja4,
            )
            try:
                observer(exchange)
            except Exception:
                stats.observer_errors += 1
                log.exception("decoy %s: exchange observer failed", site.name)
        self._reset()
