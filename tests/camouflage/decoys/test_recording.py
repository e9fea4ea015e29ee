"""What the observer hears about each exchange."""

from __future__ import annotations

import time

from shieldx.camouflage.decoys.exchanges import (
    MAX_RECORDED_BODY,
    MAX_RECORDED_HEADER_VALUE,
    MAX_RECORDED_HEADERS,
    DecoyExchange,
)

from .conftest import DecoyHost, Recorder
from .wire import exchange, wait_until


def test_an_exchange_carries_the_request_and_the_answer(
    decoy_host: DecoyHost, recorder: Recorder
) -> None:
    server = decoy_host.start("nginx-1.22.1-debian", name="edge", observer=recorder)
    before = time.time()
    request = (
        b"POST /login.php?user=admin&x=%27 HTTP/1.1\r\nHost: shop.example\r\n"
        b"User-Agent: sqlmap/1.7\r\nContent-Length: 11\r\n\r\npassword=1'"
    )
    try:
        answer = exchange(server.port, request)
        (record,) = recorder.wait_for(1)
    finally:
        decoy_host.stop(server)
    assert isinstance(record, DecoyExchange)
    assert (record.decoy, record.template) == ("edge", "nginx-1.22.1-debian")
    assert record.peer_host == "127.0.0.1" and record.peer_port > 0
    assert before <= record.time <= time.time()
    assert (record.method, record.target) == ("POST", "/login.php?user=admin&x=%27")
    assert (record.path, record.query, record.http_version) == (
        "/login.php",
        "user=admin&x=%27",
        "HTTP/1.1",
    )
    assert record.headers == (
        ("Host", "shop.example"),
        ("User-Agent", "sqlmap/1.7"),
        ("Content-Length", "11"),
    )
    assert (record.body, record.body_length) == (b"password=1'", 11)
    assert (record.status, record.bytes_sent) == (404, len(answer.data))
    assert not record.malformed and record.reason == ""


def test_a_malformed_request_is_recorded_with_its_raw_line(
    decoy_host: DecoyHost, recorder: Recorder
) -> None:
    server = decoy_host.start("apache-2.4.71-debian", name="edge", observer=recorder)
    try:
        answer = exchange(server.port, b"GET /a b c HTTP/1.1\r\nHost: x\r\nX-Probe: 1\r\n\r\n")
        (record,) = recorder.wait_for(1)
    finally:
        decoy_host.stop(server)
    assert answer.data.startswith(b"HTTP/1.1 400 Bad Request")
    assert record.malformed and record.status == 400
    assert record.target == "GET /a b c HTTP/1.1"
    assert record.method == "GET" and record.path == "/a"
    assert server.stats.malformed == 1


def test_headers_and_bodies_are_capped(decoy_host: DecoyHost, recorder: Recorder) -> None:
    server = decoy_host.start("tomcat-9.0.107", name="caps", observer=recorder)
    many = b"".join(b"X-%d: %s\r\n" % (i, b"v" * 80) for i in range(80))
    body = b"b" * (MAX_RECORDED_BODY * 3)
    request = b"POST /x HTTP/1.1\r\nHost: x\r\n" + many
    request += b"X-Long: " + b"L" * 4000 + b"\r\n"
    request += b"Content-Length: %d\r\n\r\n" % len(body) + body
    try:
        exchange(server.port, request)
        (record,) = recorder.wait_for(1)
    finally:
        decoy_host.stop(server)
    # Tomcat refuses a head over maxHttpHeaderSize: the record still keeps what it can.
    assert record.malformed and record.status == 400
    assert len(record.headers) <= MAX_RECORDED_HEADERS
    assert all(len(value) <= MAX_RECORDED_HEADER_VALUE for _, value in record.headers)


def test_a_large_body_is_kept_up_to_the_cap_with_its_real_length(
    decoy_host: DecoyHost, recorder: Recorder
) -> None:
    server = decoy_host.start("iis-10.0", name="caps", observer=recorder)
    body = bytes(range(256)) * 100
    try:
        exchange(
            server.port, b"PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 25600\r\n\r\n" + body
        )
        (record,) = recorder.wait_for(1)
    finally:
        decoy_host.stop(server)
    assert record.body == body[:MAX_RECORDED_BODY] and record.body_length == len(body)


def test_an_observer_that_fails_is_counted_and_does_not_break_the_decoy(
    decoy_host: DecoyHost,
) -> None:
    calls: list[int] = []

    def failing(exchange: DecoyExchange) -> None:
        calls.append(exchange.status)
        raise ValueError("observer bug")

    server = decoy_host.start("iis-10.0", name="edge", observer=failing)
    try:
        first = exchange(server.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        second = exchange(server.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert wait_until(lambda: server.stats.observer_errors == 2)
    finally:
        decoy_host.stop(server)
    assert first.data.startswith(b"HTTP/1.1 200 OK")
    assert second.data.startswith(b"HTTP/1.1 200 OK")
    assert calls == [200, 200]


def test_a_request_cut_short_by_the_client_is_recorded(
    decoy_host: DecoyHost, recorder: Recorder
) -> None:
    server = decoy_host.start("nginx-1.22.1-debian", name="edge", observer=recorder)
    try:
        answer = exchange(server.port, b"GET /admin HTTP/1.1\r\nHost: x\r\n", half_close=True)
        (record,) = recorder.wait_for(1)
    finally:
        decoy_host.stop(server)
    assert answer.closed and answer.data == b""
    assert record.malformed and record.status == 0
    assert (record.method, record.path, record.reason) == ("GET", "/admin", "closed-by-client")
    assert record.headers == (("Host", "x"),)


def test_keep_alive_exchanges_are_recorded_one_by_one(
    decoy_host: DecoyHost, recorder: Recorder
) -> None:
    server = decoy_host.start("apache-2.4.71-debian", name="edge", observer=recorder)
    requests = b"".join(b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(3))
    try:
        exchange(server.port, requests)
        records = recorder.wait_for(3)
    finally:
        decoy_host.stop(server)
    assert [r.path for r in records] == ["/0", "/1", "/2"]
    assert [r.connection_requests for r in records] == [1, 2, 3]
    assert len({r.peer_port for r in records}) == 1
