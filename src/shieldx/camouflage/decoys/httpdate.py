"""HTTP dates (IMF-fixdate), formatted once per second for the hot path."""

from __future__ import annotations

import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from functools import lru_cache

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_http_date(epoch: float) -> str:
    """Format a Unix time as an IMF-fixdate, e.g. ``Sun, 06 Nov 1994 08:49:37 GMT``."""
    return _format_seconds(int(epoch))


@lru_cache(maxsize=4096)
def _format_seconds(epoch: int) -> str:
    t = time.gmtime(epoch)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )


def parse_http_date(value: str) -> int | None:
    """Parse an HTTP date (any of the three RFC 9110 formats) to Unix seconds, or None."""
    try:
        return int(parsedate_to_datetime(value).timestamp())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


class HttpDateClock:
    """The current HTTP date, recomputed only when the second changes."""

    __slots__ = ("_now", "_second", "_text")

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._second = -1
        self._text = ""

    def now(self) -> float:
        """Return the current Unix time from the clock's source."""
        return self._now()

    def current(self) -> str:
        """Return the HTTP date for the current second."""
        second = int(self._now())
        if second != self._second:
            self._second = second
            self._text = format_http_date(second)
        return self._text
