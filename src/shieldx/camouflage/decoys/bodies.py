"""Reading request bodies (Content-Length or chunked) with bounded memory."""

from __future__ import annotations

from .exchanges import MAX_RECORDED_BODY
from .messages import Rejection

_MAX_CHUNK_LINE = 4096
_HEX = frozenset(b"0123456789abcdefABCDEF")


class BodyReader:
    """Consumes a request body from a buffer, keeping only the first bytes for the record.

    ``length`` is the Content-Length, or None for a chunked body. ``limit`` is the mimicked
    server's maximum body size (0 for none); a larger body raises ``Rejection(413)``.
    """

    __slots__ = ("_chunked", "_kept", "_limit", "_remaining", "_state", "done", "total")

    def __init__(self, length: int | None, limit: int = 0) -> None:
        self._kept = bytearray()
        self._limit = limit
        self.total = 0
        self._chunked = length is None
        if length is None:
            self._state = "size"
            self._remaining = 0
        else:
            self._state = "data" if length else "done"
            self._remaining = length
        self.done = self._state == "done"

    @property
    def kept(self) -> bytes:
        """The first bytes of the body (at most MAX_RECORDED_BODY)."""
        return bytes(self._kept)

    def _take(self, data: bytearray | memoryview, n: int) -> None:
        room = MAX_RECORDED_BODY - len(self._kept)
        if room > 0:
            self._kept += data[: min(n, room)]
        self.total += n
        if self._limit and self.total > self._limit:
            raise Rejection(413)

    def feed(self, buf: bytearray) -> int:
        """Consume what it can from buf; return how many bytes were used. Raises Rejection."""
        pos = 0
        end = len(buf)
        while not self.done and pos < end:
            if self._state == "data":
                n = min(self._remaining, end - pos)
                self._take(memoryview(buf)[pos : pos + n], n)
                pos += n
                self._remaining -= n
                if self._remaining == 0:
                    self._state = "data-end" if self._chunked else "done"
                    self.done = self._state == "done"
                continue
            nl = buf.find(b"\n", pos)
            if nl < 0:
                if end - pos > _MAX_CHUNK_LINE:
                    raise Rejection(400, "chunk")
                break
            line = bytes(buf[pos:nl]).rstrip(b"\r")
            pos = nl + 1
            self._line(line)
        return pos

    def _line(self, line: bytes) -> None:
        if self._state == "data-end":
            if line:
                raise Rejection(400, "chunk")
            self._state = "size"
        elif self._state == "size":
            digits = line.split(b";", 1)[0].strip(b" \t")
            if not digits or len(digits) > 16 or any(c not in _HEX for c in digits):
                raise Rejection(400, "chunk")
            size = int(digits, 16)
            if size == 0:
                self._state = "trailers"
            else:
                self._remaining = size
                self._state = "data"
        elif self._state == "trailers" and not line:
            self._state = "done"
            self.done = True
