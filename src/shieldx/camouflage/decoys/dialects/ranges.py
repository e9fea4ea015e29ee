"""Byte ranges the way nginx (ngx_http_range_filter_module) and httpd (byterange_filter.c) read
them, and the multipart/byteranges bodies each writes. Pure functions over a header and a size.

Both return a list of (first, last) inclusive spans, ``None`` to ignore the header (send the
whole file with 200) or ``False`` for 416.
"""

from __future__ import annotations

Spans = list[tuple[int, int]] | None | bool

_DIGITS = frozenset("0123456789")
_MAX_OFF = (1 << 63) - 1


def _digits(text: str, i: int) -> tuple[int, int]:
    start = i
    while i < len(text) and text[i] in _DIGITS:
        i += 1
    return (int(text[start:i]) if i > start else -1), i


def _skip_spaces(text: str, i: int) -> int:
    while i < len(text) and text[i] == " ":
        i += 1
    return i


def nginx_ranges(value: str, size: int) -> Spans:
    """ngx_http_range_parse (max_ranges unlimited) on a header known to start with bytes=."""
    text = value[6:]
    i = 0
    spans: list[tuple[int, int]] = []
    total = 0
    while True:
        i = _skip_spaces(text, i)
        suffix = False
        if text[i : i + 1] != "-":
            start, i = _digits(text, i)
            if start < 0 or start > _MAX_OFF:
                return False
            i = _skip_spaces(text, i)
            if text[i : i + 1] != "-":
                return False
            i = _skip_spaces(text, i + 1)
            if i >= len(text) or text[i] == ",":
                end = size
                end_found = True
            else:
                end_found = False
        else:
            start, suffix, end_found = 0, True, False
            i += 1
        if not end_found:
            end, i = _digits(text, i)
            if end < 0 or end > _MAX_OFF:
                return False
            i = _skip_spaces(text, i)
            if i < len(text) and text[i] != ",":
                return False
            if suffix:
                start = size - end if end < size else 0
                end = size - 1
            end = size if end >= size else end + 1
        if start < end:
            spans.append((start, end - 1))
            total += end - start
        elif start == 0:
            return None
        if i >= len(text) or text[i] != ",":
            break
        i += 1
    if not spans:
        return False
    if total > size:
        return None
    return spans


def _strict_length(text: str) -> int | None:
    """ap_parse_strict_length: decimal digits only."""
    return int(text) if text and text.isascii() and text.isdigit() else None


def apache_ranges(value: str, size: int) -> tuple[Spans, int, int]:
    """ap_set_byterange: (spans or None/False, overlaps, reversals) for a bytes= header."""
    rest = value[6:]
    spans: list[tuple[int, int]] = []
    unsatisfiable = in_merge = False
    ostart = oend = total = 0
    overlaps = reversals = 0
    for cur in rest.split(","):
        if not cur:
            break
        dash = cur.find("-")
        if dash < 0:
            return None, 0, 0
        if dash == 0:
            number = _strict_length(cur[1:])
            if number is None or number < 1:
                return None, 0, 0
            start, end = size - number, size - 1
        else:
            first = _strict_length(cur[:dash])
            if first is None:
                return None, 0, 0
            start = first
            if cur[dash + 1 :]:
                last = _strict_length(cur[dash + 1 :])
                if last is None or start > last:
                    return None, 0, 0
                end = last
            else:
                end = size - 1
                if start == 0:
                    spans, total, in_merge, ostart, oend = [], 0, True, 0, end
                    break
        start = max(start, 0)
        if start >= size:
            unsatisfiable = True
            continue
        end = min(end, size - 1)
        if not in_merge:
            ostart, oend, in_merge = start, end, True
            continue
        in_merge = start >= ostart and end <= oend
        if start < ostart and end >= ostart - 1:
            ostart, in_merge = start, True
            reversals += 1
        if end >= oend and start <= oend + 1:
            oend, in_merge = end, True
        if in_merge:
            overlaps += 1
            continue
        spans.append((ostart, oend))
        total += oend - ostart + 1
        in_merge, ostart, oend = True, start, end
    if in_merge:
        spans.append((ostart, oend))
        total += oend - ostart + 1
    elif not spans and unsatisfiable:
        return False, 0, 0
    if total > size or not spans:
        return None, 0, 0
    return spans, overlaps, reversals


def nginx_multipart(
    body: bytes, spans: list[tuple[int, int]], boundary: str, content_type: str
) -> bytes:
    """ngx_http_range_multipart_header's body: a part per span, then the closing boundary."""
    size = len(body)
    out = []
    for first, last in spans:
        out.append(
            f"\r\n--{boundary}\r\nContent-Type: {content_type}\r\n"
            f"Content-Range: bytes {first}-{last}/{size}\r\n\r\n".encode("latin-1")
        )
        out.append(body[first : last + 1])
    out.append(f"\r\n--{boundary}--\r\n".encode("latin-1"))
    return b"".join(out)


def apache_multipart(
    body: bytes, spans: list[tuple[int, int]], boundary: str, content_type: str
) -> bytes:
    """ap_byterange_filter's body (httpd writes the part headers in lower case after '-', and
    no type line for a file without a type)."""
    size = len(body)
    type_line = f"Content-type: {content_type}\r\n" if content_type else ""
    out = []
    for first, last in spans:
        out.append(
            f"\r\n--{boundary}\r\n{type_line}"
            f"Content-range: bytes {first}-{last}/{size}\r\n\r\n".encode("latin-1")
        )
        out.append(body[first : last + 1])
    out.append(f"\r\n--{boundary}--\r\n".encode("latin-1"))
    return b"".join(out)
