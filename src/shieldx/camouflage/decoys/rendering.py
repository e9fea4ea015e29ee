"""A pure preview of what a template answers, for the management API."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .dialects import build_dialect
from .httpdate import format_http_date
from .messages import ConnectionState, Rejection, RequestLine
from .templates import Template, load_template

_PREVIEW_PORT = 80


@dataclass(frozen=True, slots=True)
class RenderedResponse:
    """Status, headers in order and body bytes, as the decoy would send them."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


def render(
    template: str | Template,
    method: str,
    path: str,
    headers: Sequence[tuple[str, str]] = (),
    *,
    now: float = 0.0,
    server_name: str = "localhost",
    port: int = _PREVIEW_PORT,
) -> RenderedResponse:
    """Render a template's answer to ``METHOD path HTTP/1.1`` with the given headers.

    Pure: no socket, no file outside the bundled template, no clock unless ``now`` is 0 (then
    the Date is the epoch, so previews are reproducible). A Host header is added when absent.
    """
    loaded = load_template(template) if isinstance(template, str) else template
    dialect = build_dialect(loaded, server_name=server_name, port=port)
    conn = ConnectionState(local_port=port, peer_host="192.0.2.1", peer_port=49152)
    conn.date = format_http_date(now)
    conn.served = 1
    fields = list(headers)
    if not any(name.lower() == "host" for name, _ in fields):
        fields.insert(0, ("Host", server_name))
    raw_line = f"{method} {path} HTTP/1.1\r\n".encode("latin-1", "replace")
    line: RequestLine | None = None
    try:
        line = dialect.parse_request_line(raw_line)
        raw_fields = [f"{name}: {value}".encode("latin-1", "replace") for name, value in fields]
        request = dialect.parse_head(line, raw_fields, False)
        dialect.body_framing(request)
        response = dialect.respond(request, conn)
    except Rejection as rejection:
        response = dialect.reject(rejection.status, rejection.variant, line, conn)
    body = response.body if response.send_body else b""
    return RenderedResponse(response.status, response.reason, tuple(response.headers), body)
