"""Raw-socket helpers: send bytes to a server and read what comes back, as a scanner would."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass


@dataclass(frozen=True)
class Exchange:
    """What a server sent back, whether it closed the connection, and how long it took."""

    data: bytes
    closed: bool
    seconds: float


def exchange(
    port: int, data: bytes, *, idle: float = 0.3, limit: float = 10.0, half_close: bool = False
) -> Exchange:
    """Send data, then read until the server closes or stays quiet for ``idle`` seconds.

    With ``half_close`` the client shuts its sending side after the data, as many scanners do.
    """
    start = time.monotonic()
    out = bytearray()
    closed = False
    with socket.create_connection(("127.0.0.1", port), timeout=limit) as sock:
        if data:
            sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        sock.settimeout(idle)
        while time.monotonic() - start < limit:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            out += chunk
    return Exchange(bytes(out), closed, time.monotonic() - start)


def exchange_all(
    port: int, requests: Iterable[tuple[str, bytes]], *, idle: float = 0.3, workers: int = 24
) -> dict[str, Exchange]:
    """Run many exchanges concurrently (each on its own connection), keyed by name."""
    items = list(requests)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        answers = pool.map(lambda item: exchange(port, item[1], idle=idle), items)
        return {name: answer for (name, _), answer in zip(items, answers, strict=True)}


def head_of(data: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    """Split a response into its status line, its headers in order and its body."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = [(n, v.strip()) for n, _, v in (line.partition(":") for line in lines[1:])]
    return lines[0], headers, body


def wait_until(condition: Callable[[], bool], deadline_s: float = 5.0) -> bool:
    """Poll a condition until it holds or the deadline passes; return whether it held."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


def ask(port: int, data: bytes) -> bytes:
    """Send a request and half-close: the server answers and closes, no idle wait needed."""
    return exchange(port, data, half_close=True).data
