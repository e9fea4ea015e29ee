"""Shared byte-level helpers: URL decoding, dot segments, gzip, chunks, ranges."""

from __future__ import annotations

import gzip

import pytest

from shieldx.camouflage.decoys.dialects.common import (
    AboveRoot,
    BadEscape,
    chunked,
    gzip_member,
    normalize_path,
    percent_decode,
    single_range,
)
from shieldx.camouflage.decoys.dialects.uris import split_absolute, split_line


def test_percent_decode() -> None:
    assert percent_decode(b"/a%20b%2F%2e") == b"/a b/."
    assert percent_decode(b"/plain+") == b"/plain+"
    for bad in (b"/%", b"/%2", b"/%zz", b"/%g0"):
        with pytest.raises(BadEscape):
            percent_decode(bad)


@pytest.mark.parametrize(
    ("path", "merged", "kept"),
    [
        (b"/", b"/", b"/"),
        (b"/a/../", b"/", b"/"),
        (b"/a/./b", b"/a/b", b"/a/b"),
        (b"//x//", b"/x/", b"//x//"),
        (b"/a/b/..", b"/a/", b"/a/"),
    ],
)
def test_normalize_path(path: bytes, merged: bytes, kept: bytes) -> None:
    assert normalize_path(path) == merged
    assert normalize_path(path, merge_slashes=False) == kept


def test_climbing_above_the_root_is_refused() -> None:
    for path in (b"/..", b"/a/../..", b"/../etc/passwd"):
        with pytest.raises(AboveRoot):
            normalize_path(path)


def test_gzip_member_is_valid_gzip_with_the_servers_header_bytes() -> None:
    data = b"<html>" * 100
    member = gzip_member(data, level=1, wbits=10, memlevel=3, xfl=4)
    assert member[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x04\x03"
    assert gzip.decompress(member) == data


def test_chunked_framing() -> None:
    assert chunked([b"abc", b"", b"x" * 16]) == b"3\r\nabc\r\n10\r\n" + b"x" * 16 + b"\r\n0\r\n\r\n"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-9", (0, 9)),
        ("bytes=-5", (95, 99)),
        ("bytes=90-", (90, 99)),
        ("bytes=90-500", (90, 99)),
        ("bytes=100-", False),
        ("bytes=5-1", None),
        ("bytes=0-1,3-4", None),
        ("items=0-1", None),
    ],
)
def test_single_range(header: str, expected: object) -> None:
    assert single_range(header, 100) == expected


def test_request_line_splitting() -> None:
    assert split_line(b"GET  /x   HTTP/1.1  \r\n", multiple_spaces=True) == (
        b"GET",
        b"/x",
        b"HTTP/1.1",
        True,
    )
    assert split_line(b"GET /x\r\n", multiple_spaces=False) == (b"GET", b"/x", None, True)
    assert split_line(b"GET  /x HTTP/1.1\r\n", multiple_spaces=False)[3] is False
    assert split_line(b"GET /\rx\r\n", multiple_spaces=True)[3] is False


def test_absolute_targets() -> None:
    assert split_absolute(b"http://example.com:8080/a?b") == (b"example.com:8080", b"/a?b")
    assert split_absolute(b"https://[::1]/") == (b"[::1]", b"/")
    assert split_absolute(b"http://example.com") == (b"example.com", b"/")
    assert split_absolute(b"nohost")[0] is None
    assert split_absolute(b"http://bad_host/")[0] is None
