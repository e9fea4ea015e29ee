"""HTTP dates and the once-a-second clock."""

from __future__ import annotations

from shieldx.camouflage.decoys.httpdate import HttpDateClock, format_http_date, parse_http_date


def test_format_is_imf_fixdate() -> None:
    assert format_http_date(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT"
    assert format_http_date(0.9) == "Thu, 01 Jan 1970 00:00:00 GMT"


def test_parse_accepts_the_three_formats_and_refuses_garbage() -> None:
    assert parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777
    assert parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777
    assert parse_http_date("Sun Nov  6 08:49:37 1994") == 784111777
    assert parse_http_date("garbage") is None
    assert parse_http_date("") is None


def test_the_clock_formats_once_per_second() -> None:
    now = [100.0]
    clock = HttpDateClock(now=lambda: now[0])
    first = clock.current()
    now[0] = 100.9
    assert clock.current() is first
    now[0] = 101.0
    assert clock.current() == "Thu, 01 Jan 1970 00:01:41 GMT"
    assert clock.now() == 101.0
