"""render(): the management API's pure preview of a template's answer."""

from __future__ import annotations

import pytest

from shieldx.camouflage.decoys import UnknownTemplateError, render


def test_render_gives_status_ordered_headers_and_body() -> None:
    rendered = render("nginx-1.22.1-debian", "GET", "/")
    assert (rendered.status, rendered.reason) == (200, "OK")
    assert [name for name, _ in rendered.headers] == [
        "Server",
        "Date",
        "Content-Type",
        "Content-Length",
        "Last-Modified",
        "Connection",
        "ETag",
        "Accept-Ranges",
    ]
    assert dict(rendered.headers)["Date"] == "Thu, 01 Jan 1970 00:00:00 GMT"
    assert rendered.body.startswith(b"<!DOCTYPE html>")


def test_render_is_reproducible_and_honours_the_time_given() -> None:
    one = render("iis-10.0", "GET", "/missing", now=1_700_000_000)
    assert one == render("iis-10.0", "GET", "/missing", now=1_700_000_000)
    assert dict(one.headers)["Date"] == "Tue, 14 Nov 2023 22:13:20 GMT"
    assert one.status == 404 and b"404 - File or directory not found." in one.body


def test_render_uses_the_given_headers() -> None:
    plain = render("apache-2.4.71-debian", "GET", "/")
    gzipped = render("apache-2.4.71-debian", "GET", "/", [("Accept-Encoding", "gzip")])
    assert dict(gzipped.headers)["Content-Encoding"] == "gzip"
    assert gzipped.body[:2] == b"\x1f\x8b" and len(gzipped.body) < len(plain.body)
    host = render("apache-2.4.71-debian", "GET", "/nope", [("Host", "intranet.example")])
    assert b"Server at intranet.example Port 80" in host.body


@pytest.mark.parametrize(
    ("template", "status"),
    [
        ("nginx-1.22.1-debian", 400),
        ("apache-2.4.71-debian", 400),
        ("iis-10.0", 400),
        ("tomcat-9.0.107", 400),
    ],
)
def test_render_shows_refusals_too(template: str, status: int) -> None:
    rendered = render(template, "GET", "/a b")
    assert rendered.status == status and rendered.body


def test_render_refuses_an_unknown_template() -> None:
    with pytest.raises(UnknownTemplateError):
        render("caddy-2", "GET", "/")
