"""DecoyServer: start/stop, options, and the dynamic-content hook."""

from __future__ import annotations

import asyncio
import time

import pytest

from shieldx.camouflage.decoys import (
    DecoyServer,
    DynamicRequest,
    DynamicResponse,
    UnknownTemplateError,
)

from .conftest import DecoyHost, Recorder
from .wire import ask, exchange, head_of

MAZE_PAGE = b"<html><body><a href='/maze/a1/'>a1</a></body></html>"


class MazeProvider:
    """A trivial provider: a page under /maze/, nothing elsewhere, a failure on /maze/boom."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.seen: list[DynamicRequest] = []

    async def __call__(self, request: DynamicRequest) -> DynamicResponse | None:
        self.seen.append(request)
        if request.path == "/maze/boom":
            raise RuntimeError("provider bug")
        if request.path == "/maze/none":
            return None
        await asyncio.sleep(0)
        return DynamicResponse(200, "text/html", MAZE_PAGE, delay_s=self.delay_s)


def test_start_binds_an_ephemeral_port_and_stop_is_idempotent(decoy_host: DecoyHost) -> None:
    server = DecoyServer(name="plain", template="iis-10.0", host="127.0.0.1", port=0)
    port = decoy_host.call(server.start())
    try:
        assert port == server.port and port > 0
        assert ask(port, b"GET / HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.1 200 OK")
        with pytest.raises(RuntimeError, match="already started"):
            decoy_host.call(server.start())
    finally:
        decoy_host.call(server.stop())
        decoy_host.call(server.stop())


def test_an_unknown_template_is_refused_with_the_list_of_known_ones() -> None:
    with pytest.raises(
        UnknownTemplateError, match=r"bundled templates are: apache-2\.4\.71-debian"
    ):
        DecoyServer(name="x", template="lighttpd-1.4")


@pytest.mark.parametrize(
    ("template", "names"),
    [
        ("nginx-1.22.1-debian", ["Server", "Date", "Content-Type", "Content-Length", "Connection"]),
        ("apache-2.4.71-debian", ["Date", "Server", "Vary", "Content-Length", "Content-Type"]),
        ("iis-10.0", ["Content-Type", "Server", "X-Powered-By", "Date", "Content-Length"]),
        ("tomcat-9.0.107", ["Content-Type", "Content-Length", "Date"]),
    ],
)
def test_dynamic_pages_come_in_the_templates_header_style(
    decoy_host: DecoyHost, recorder: Recorder, template: str, names: list[str]
) -> None:
    provider = MazeProvider()
    server = decoy_host.start(
        template, name="maze", observer=recorder, dynamic_routes=(("/maze/", provider),)
    )
    try:
        answer = ask(
            server.port, b"POST /maze/x?q=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
        )
        (record,) = recorder.wait_for(1)
    finally:
        decoy_host.stop(server)
    status, headers, body = head_of(answer)
    assert status.startswith("HTTP/1.1 200")
    assert [name for name, _ in headers] == names
    assert body == MAZE_PAGE
    (seen,) = provider.seen
    assert (seen.method, seen.path, seen.query, seen.body) == ("POST", "/maze/x", "q=1", b"hi")
    assert (seen.decoy, seen.template) == ("maze", template)
    assert record.status == 200 and record.path == "/maze/x"


def test_a_provider_that_declines_lets_the_template_answer(decoy_host: DecoyHost) -> None:
    server = decoy_host.start(
        "nginx-1.22.1-debian", name="maze", dynamic_routes=(("/maze/", MazeProvider()),)
    )
    try:
        answer = ask(server.port, b"GET /maze/none HTTP/1.1\r\nHost: x\r\n\r\n")
        outside = ask(server.port, b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n")
    finally:
        decoy_host.stop(server)
    assert answer.startswith(b"HTTP/1.1 404 Not Found")
    assert b"<hr><center>nginx/1.22.1</center>" in answer
    assert outside.startswith(b"HTTP/1.1 404 Not Found")


def test_a_failing_provider_gets_the_servers_500_and_is_counted(decoy_host: DecoyHost) -> None:
    server = decoy_host.start(
        "apache-2.4.71-debian", name="maze", dynamic_routes=(("/maze/", MazeProvider()),)
    )
    try:
        answer = ask(server.port, b"GET /maze/boom HTTP/1.1\r\nHost: x\r\n\r\n")
    finally:
        decoy_host.stop(server)
    assert answer.startswith(b"HTTP/1.1 500 Internal Server Error")
    assert b"<address>Apache/2.4.71 (Debian) Server at" in answer
    assert b"provider bug" not in answer
    assert server.stats.provider_errors == 1


def test_a_provider_delay_is_honoured_and_capped(decoy_host: DecoyHost) -> None:
    server = decoy_host.start(
        "tomcat-9.0.107",
        name="tarpit",
        dynamic_routes=(("/maze/", MazeProvider(delay_s=60)),),
        max_dynamic_delay=0.3,
    )
    try:
        start = time.monotonic()
        request = b"GET /maze/slow HTTP/1.1\r\nHost: x\r\n\r\n"
        answer = exchange(server.port, request, idle=2, half_close=True).data
        elapsed = time.monotonic() - start
    finally:
        decoy_host.stop(server)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert 0.3 <= elapsed < 2.5


def test_the_longest_matching_prefix_wins(decoy_host: DecoyHost) -> None:
    outer, inner = MazeProvider(), MazeProvider()
    server = decoy_host.start(
        "iis-10.0", name="maze", dynamic_routes=(("/a/", outer), ("/a/b/", inner))
    )
    try:
        ask(server.port, b"GET /a/b/c HTTP/1.1\r\nHost: x\r\n\r\n")
        ask(server.port, b"GET /a/c HTTP/1.1\r\nHost: x\r\n\r\n")
    finally:
        decoy_host.stop(server)
    assert [r.path for r in inner.seen] == ["/a/b/c"]
    assert [r.path for r in outer.seen] == ["/a/c"]
