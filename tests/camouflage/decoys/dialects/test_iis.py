"""The IIS 10.0 decoy: what IIS and HTTP.sys are known to send (no Windows host here)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shieldx.camouflage.decoys import DecoyServer
from shieldx.camouflage.decoys.dialects.iis import iis_etag

from ..conftest import DecoyHost, running
from ..wire import ask, exchange, head_of


@pytest.fixture(scope="module")
def iis(decoy_host: DecoyHost) -> Iterator[DecoyServer]:
    """An IIS decoy for the module."""
    yield from running(decoy_host, "iis-10.0")


def test_the_start_page_matches_a_real_iis_10_capture(iis: DecoyServer) -> None:
    status, headers, body = head_of(ask(iis.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert status == "HTTP/1.1 200 OK"
    assert headers[:4] == [
        ("Content-Type", "text/html"),
        ("Last-Modified", "Wed, 04 Nov 2020 05:35:35 GMT"),
        ("Accept-Ranges", "bytes"),
        ("ETag", '"965c9516cb2d61:0"'),
    ]
    assert [n for n, _ in headers[4:]] == ["Server", "X-Powered-By", "Date", "Content-Length"]
    assert dict(headers)["Server"] == "Microsoft-IIS/10.0"
    assert len(body) == 703 and b"<title>IIS Windows Server</title>" in body


def test_the_etag_is_the_filetime_in_iis_byte_order() -> None:
    assert iis_etag(132489417352349078) == '"965c9516cb2d61:0"'


def test_missing_pages_get_the_custerr_404(iis: DecoyServer) -> None:
    status, headers, body = head_of(ask(iis.port, b"GET /x.aspx HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert status == "HTTP/1.1 404 Not Found"
    assert dict(headers)["Content-Length"] == "1245" == str(len(body))
    assert b"<h2>404 - File or directory not found.</h2>" in body
    assert b'<div id="header"><h1>Server Error</h1></div>' in body


def test_paths_are_case_insensitive_and_hidden_segments_are_404(iis: DecoyServer) -> None:
    upper = ask(iis.port, b"GET /IISSTART.HTM HTTP/1.1\r\nHost: x\r\n\r\n")
    assert upper.startswith(b"HTTP/1.1 200 OK")
    hidden = ask(iis.port, b"GET /web.config HTTP/1.1\r\nHost: x\r\n\r\n")
    assert hidden.startswith(b"HTTP/1.1 404 Not Found")


def test_verbs_other_than_get_and_head_are_405_with_allow(iis: DecoyServer) -> None:
    status, headers, body = head_of(
        ask(iis.port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    )
    assert status == "HTTP/1.1 405 Method Not Allowed"
    assert headers[0] == ("Allow", "GET, HEAD, OPTIONS, TRACE")
    assert b"405 - HTTP verb used to access this page is not allowed." in body


def test_options_lists_allow_and_public(iis: DecoyServer) -> None:
    _, headers, _ = head_of(ask(iis.port, b"OPTIONS / HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert dict(headers)["Public"] == dict(headers)["Allow"] == "OPTIONS, TRACE, GET, HEAD, POST"


@pytest.mark.parametrize(
    ("request_bytes", "status", "heading", "length"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", "400 Bad Request", b"Bad Request - Invalid Hostname", 334),
        (
            b"GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n",
            "400 Bad Request",
            b"Bad Request - Invalid URL",
            324,
        ),
        (b"GARBAGE\r\n\r\n", "400 Bad Request", b"<h2>Bad Request</h2>", 311),
        (
            b"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
            "505 HTTP Version Not Supported",
            b"HTTP Error 505",
            0,
        ),
        (
            b"GET /" + b"a" * 17000 + b" HTTP/1.1\r\n\r\n",
            "414 Request-URI Too Long",
            b"Request URL Too Long",
            0,
        ),
    ],
)
def test_malformed_requests_get_the_httpapi_pages(
    iis: DecoyServer, request_bytes: bytes, status: str, heading: bytes, length: int
) -> None:
    answer = exchange(iis.port, request_bytes)
    line, headers, body = head_of(answer.data)
    assert line == f"HTTP/1.1 {status}"
    assert headers[:2] == [
        ("Content-Type", "text/html; charset=us-ascii"),
        ("Server", "Microsoft-HTTPAPI/2.0"),
    ]
    assert ("Connection", "close") in headers and answer.closed
    assert heading in body
    if length:
        assert len(body) == length


def test_http10_without_host_is_served_the_start_page(iis: DecoyServer) -> None:
    answer = exchange(iis.port, b"GET / HTTP/1.0\r\n\r\n")
    assert answer.data.startswith(b"HTTP/1.1 200 OK") and answer.closed
