"""Splitting request lines and absolute-form targets, shared by the lenient dialects."""

from __future__ import annotations

_SCHEME = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_HOST = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")


def strip_terminator(line: bytes) -> bytes:
    """Remove a trailing CRLF or LF."""
    if line.endswith(b"\r\n"):
        return line[:-2]
    if line.endswith(b"\n"):
        return line[:-1]
    return line


def split_line(line: bytes, *, multiple_spaces: bool) -> tuple[bytes, bytes, bytes | None, bool]:
    """Split ``METHOD SP target [SP version]``; returns (method, target, version, well_formed).

    ``version`` is None for a version-less (HTTP/0.9) line. With ``multiple_spaces`` runs of
    spaces separate the parts and trail the version, as nginx allows; otherwise exactly one
    space must separate them.
    """
    raw = strip_terminator(line)
    if b"\r" in raw:
        return b"", b"", None, False
    if multiple_spaces:
        method, sep, rest = raw.partition(b" ")
        if not sep:
            return b"", b"", None, False
        rest = rest.lstrip(b" ")
        target, sep, version = rest.partition(b" ")
        version = version.strip(b" ")
        return method, target, (version if version else None), True
    parts = raw.split(b" ")
    if len(parts) == 2:
        return parts[0], parts[1], None, bool(parts[0]) and bool(parts[1])
    if len(parts) == 3:
        return parts[0], parts[1], parts[2], all(parts)
    return b"", b"", None, False


def split_absolute(target: bytes) -> tuple[bytes | None, bytes]:
    """Split ``scheme://host[:port]/path`` into (host with port, path); (None, b'') if invalid."""
    scheme, sep, rest = target.partition(b"://")
    if not sep or not scheme or any(c not in _SCHEME for c in scheme):
        return None, b""
    end = len(rest)
    for i, c in enumerate(rest):
        if c in b"/?":
            end = i
            break
    authority, path = rest[:end], rest[end:]
    host, colon, port = authority.partition(b":")
    if authority.startswith(b"["):
        close = authority.find(b"]")
        if close < 0:
            return None, b""
        host, colon, port = (
            authority[: close + 1],
            b":" if authority[close + 1 :] else b"",
            (authority[close + 2 :]),
        )
    elif not host or any(c not in _HOST for c in host):
        return None, b""
    if colon and not port.isdigit():
        return None, b""
    if not path.startswith(b"/"):
        path = b"/" + path
    return authority, path
