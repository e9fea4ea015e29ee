"""Connection limits over real sockets: the request-header timeout and the per-process cap."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import pytest

from shieldx.config import Settings
from shieldx.platform import migrations
from shieldx.platform.app import create_app
from shieldx.platform.context import build_context
from shieldx.platform.server import ConnectionGuard
from shieldx.testing.live import LiveServer


@pytest.fixture
def serve_with(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., LiveServer]]:
    started: list[LiveServer] = []
    ctx = build_context(make_settings())
    migrations.upgrade(ctx.db)

    def start(guard: ConnectionGuard) -> LiveServer:
        live = LiveServer(create_app(ctx, "credits"), guard=guard).__enter__()
        started.append(live)
        return live

    yield start
    for live in started:
        live.__exit__(None, None, None)
    ctx.close()


def _connect(server: LiveServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return sock


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (fails after 10 s)."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _read_response(sock: socket.socket) -> bytes:
    """One whole response (head and Content-Length body), or what came before a close."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def _request(path: str = "/health") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode()


def test_a_slow_header_is_cut_after_the_header_timeout(
    serve_with: Callable[..., LiveServer],
) -> None:
    server = serve_with(ConnectionGuard(header_timeout=0.5))
    with _connect(server) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\nX-Slow: ")  # never finished
        answer = _read_until_closed(sock)
        elapsed = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b"application/problem+json" in answer
    assert b"server.header_timeout" in answer
    assert 0.4 <= elapsed < 5


def test_a_silent_connection_is_cut_too_and_a_kept_alive_one_between_requests(
    serve_with: Callable[..., LiveServer],
) -> None:
    server = serve_with(ConnectionGuard(header_timeout=0.5))
    with _connect(server) as silent:
        assert _read_until_closed(silent).startswith(b"HTTP/1.1 408 ")
    with _connect(server) as kept:
        kept.sendall(_request())
        first = _read_response(kept)
        assert first.startswith(b"HTTP/1.1 200 "), first
        kept.sendall(b"GET /health HTTP/1.1\r\n")  # the second request's head never ends
        assert _read_until_closed(kept).startswith(b"HTTP/1.1 408 ")


def test_a_complete_request_is_not_cut(serve_with: Callable[..., LiveServer]) -> None:
    server = serve_with(ConnectionGuard(header_timeout=0.5))
    with _connect(server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\n")
        sock.sendall(b"Host: t\r\n\r\n")
        assert _read_response(sock).startswith(b"HTTP/1.1 200 ")


def test_a_connection_over_the_cap_is_refused_with_503(
    serve_with: Callable[..., LiveServer],
) -> None:
    server = serve_with(ConnectionGuard(header_timeout=30, max_connections=2))
    held = [_connect(server), _connect(server)]
    try:
        for sock in held:  # both are served: the cap counts them, and nothing is refused
            sock.sendall(_request())
            assert _read_response(sock).startswith(b"HTTP/1.1 200 ")
        with _connect(server) as extra:
            answer = _read_until_closed(extra)
        assert answer.startswith(b"HTTP/1.1 503 "), answer
        assert b"too-many-connections" in answer
        assert b"retry-after: 1" in answer.lower()
        assert b"server.max_connections" in answer
    finally:
        held.pop().close()
    # A place is free again once a held connection closes (the server notices it shortly).
    deadline = time.monotonic() + 10
    while True:
        with _connect(server) as again:
            again.sendall(_request())
            answer = _read_response(again)
        if answer.startswith(b"HTTP/1.1 200 ") or time.monotonic() > deadline:
            break
    assert answer.startswith(b"HTTP/1.1 200 "), answer
    held[0].close()
