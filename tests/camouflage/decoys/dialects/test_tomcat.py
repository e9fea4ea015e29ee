"""The Tomcat 9 decoy: what Tomcat's connector, Jasper and ErrorReportValve send."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from shieldx.camouflage.decoys import DecoyServer

from ..conftest import DecoyHost, running
from ..wire import ask, exchange, head_of

NMAP_TOMCAT_ROOT = re.compile(  # nmap-service-probes: the GetRequest match for Tomcat 8.5/9
    rb"^HTTP/1\.1 200 \r\nContent-Type: text/html;charset=UTF-8\r\nDate: .*\r\nConnection: "
    rb'close\r\n\r\n\n\n\n<!DOCTYPE html>\n<html lang="en">\n    <head>\n {8}<meta charset="UTF-8"'
    rb" />\n {8}<title>Apache Tomcat/(\d[\w._-]+)</title>"
)


@pytest.fixture(scope="module")
def tomcat(decoy_host: DecoyHost) -> Iterator[DecoyServer]:
    """A Tomcat decoy for the module."""
    yield from running(decoy_host, "tomcat-9.0.107")


def test_http10_root_is_the_jsp_without_length_and_closes(tomcat: DecoyServer) -> None:
    answer = exchange(tomcat.port, b"GET / HTTP/1.0\r\n\r\n")
    match = NMAP_TOMCAT_ROOT.match(answer.data)
    assert match is not None and match.group(1) == b"9.0.107"
    assert answer.closed
    assert b"Copyright &copy;1999-20" in answer.data  # the year is today's, as the JSP does


def test_http11_root_is_chunked_at_the_response_buffer(tomcat: DecoyServer) -> None:
    status, headers, body = head_of(ask(tomcat.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert status == "HTTP/1.1 200 "  # no reason phrase since Tomcat 8.5
    assert [n for n, _ in headers] == ["Content-Type", "Transfer-Encoding", "Date"]
    assert body.startswith(b"2000\r\n\n\n\n<!DOCTYPE html>") and body.endswith(b"\r\n0\r\n\r\n")
    assert "Server" not in dict(headers)


def test_keep_alive_headers_answer_a_keep_alive_request(tomcat: DecoyServer) -> None:
    _, headers, _ = head_of(
        ask(tomcat.port, b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
    )
    assert headers[-2:] == [("Keep-Alive", "timeout=20"), ("Connection", "keep-alive")]


def test_missing_resources_get_the_error_report_with_the_version_footer(
    tomcat: DecoyServer,
) -> None:
    status, headers, body = head_of(
        ask(tomcat.port, b"GET /manager/x'y HTTP/1.1\r\nHost: x\r\n\r\n")
    )
    assert status == "HTTP/1.1 404 "
    assert headers[:2] == [("Content-Type", "text/html;charset=utf-8"), ("Content-Language", "en")]
    assert body.startswith(
        '<!doctype html><html lang="en"><head><title>HTTP Status 404 \u2013 Not Found</title>'.encode()
    )
    assert b"The requested resource [&#47;manager&#47;x&#39;y] is not available" in body
    assert body.endswith(b"<h3>Apache Tomcat/9.0.107</h3></body></html>")
    assert int(dict(headers)["Content-Length"]) == len(body)


def test_a_bad_method_gets_the_exception_report_of_the_request_line_parser(
    tomcat: DecoyServer,
) -> None:
    answer = exchange(tomcat.port, b"G<T / HTTP/1.1\r\nHost: x\r\n\r\n")
    status, headers, body = head_of(answer.data)
    assert status == "HTTP/1.1 400 " and answer.closed
    assert ("Connection", "close") in headers
    assert b"<p><b>Type</b> Exception Report</p>" in body
    assert (
        b"Invalid character found in method name [G&lt;]. HTTP method names must be tokens" in body
    )
    assert b"java.lang.IllegalArgumentException" in body
    assert b"org.apache.coyote.http11.Http11InputBuffer.parseRequestLine" in body


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [
        ("PUT", "/", "405 ", "GET, HEAD, POST, OPTIONS"),
        ("PUT", "/file.txt", "405 ", "OPTIONS, GET, HEAD, POST"),
        ("TRACE", "/", "405 ", "HEAD, POST, GET, OPTIONS"),
        ("PATCH", "/file.txt", "501 ", None),
        ("OPTIONS", "/", "200 ", "GET, HEAD, POST, OPTIONS"),
    ],
)
def test_methods_are_handled_by_jasper_or_the_default_servlet(
    tomcat: DecoyServer, method: str, path: str, status: str, allow: str | None
) -> None:
    request = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode()
    line, headers, _ = head_of(ask(tomcat.port, request))
    assert line == f"HTTP/1.1 {status}"
    assert dict(headers).get("Allow") == allow
