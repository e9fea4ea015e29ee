"""Small byte-level helpers several dialects share: URL decoding, paths, gzip, chunks, ranges."""

from __future__ import annotations

import struct
import zlib
from html import escape

_HEXVAL = {c: int(chr(c), 16) for c in b"0123456789abcdefABCDEF"}
TOKEN_CHARS = frozenset(
    b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)


def is_number(text: str, max_digits: int = 19) -> bool:
    """ASCII digits, at most MAX_DIGITS of them: what the real servers' parsers take.

    Headers are decoded as Latin-1, where str.isdigit() also accepts "\u00b2" (which int()
    refuses), and int() refuses more than 4,300 digits: both would be a decoy's own 500.
    """
    return 0 < len(text) <= max_digits and text.isascii() and text.isdigit()


class BadEscape(ValueError):
    """A '%' not followed by two hex digits."""


class AboveRoot(ValueError):
    """A path whose '..' segments climb above '/'."""


def percent_decode(raw: bytes) -> bytes:
    """Decode %XX escapes (not '+'); raise BadEscape on a malformed one."""
    if b"%" not in raw:
        return raw
    out = bytearray()
    i = 0
    n = len(raw)
    while i < n:
        c = raw[i]
        if c != 0x25:
            out.append(c)
            i += 1
            continue
        if i + 2 >= n:
            raise BadEscape(raw)
        hi = _HEXVAL.get(raw[i + 1])
        lo = _HEXVAL.get(raw[i + 2])
        if hi is None or lo is None:
            raise BadEscape(raw)
        out.append(hi * 16 + lo)
        i += 3
    return bytes(out)


def normalize_path(path: bytes, *, merge_slashes: bool = True) -> bytes:
    """Resolve '.' and '..' segments (and merge '//') in an absolute path; raise AboveRoot."""
    if b"/." not in path and (not merge_slashes or b"//" not in path):
        return path
    segments = path.split(b"/")[1:]
    last = len(segments) - 1
    out: list[bytes] = []
    for i, seg in enumerate(segments):
        if seg == b"" and merge_slashes and i != last:
            continue
        if seg in (b".", b".."):
            if seg == b"..":
                if not out:
                    raise AboveRoot(path)
                out.pop()
            if i == last:
                out.append(b"")
            continue
        out.append(seg)
    return b"/" + b"/".join(out)


def gzip_member(data: bytes, *, level: int, wbits: int, memlevel: int, xfl: int) -> bytes:
    """A gzip stream as a server's zlib writes it (mtime 0, OS unix, given XFL byte)."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, -wbits, memlevel)
    deflated = compressor.compress(data) + compressor.flush()
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00" + bytes((xfl, 3))
    return header + deflated + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def chunked(pieces: list[bytes]) -> bytes:
    """Frame pieces as HTTP/1.1 chunks followed by the last-chunk."""
    out = [b"%x\r\n%s\r\n" % (len(p), p) for p in pieces if p]
    out.append(b"0\r\n\r\n")
    return b"".join(out)


def single_range(header: str, size: int) -> tuple[int, int] | bool | None:
    """Parse a one-range ``bytes=`` header: (first, last), None (ignore) or False (416)."""
    value = header.strip()
    if not value.lower().startswith("bytes=") or "," in value:
        return None
    spec = value[6:].strip()
    first_text, sep, last_text = spec.partition("-")
    if not sep:
        return None
    try:
        if first_text == "":
            suffix = int(last_text)
            if suffix <= 0:
                return False
            return max(0, size - suffix), size - 1
        first = int(first_text)
        last = int(last_text) if last_text else size - 1
    except ValueError:
        return None
    if first >= size:
        return False
    if first > last:
        return None
    return first, min(last, size - 1)


def html_escape(text: str) -> str:
    """Escape &, <, >, and double quotes the way servers do in their error pages."""
    return escape(text, quote=True).replace("&#x27;", "'")
