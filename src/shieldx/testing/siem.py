"""SIEM receivers for tests: a real rsyslogd on loopback and an HTTP Event Collector stand-in.

Splunk itself cannot be installed here, so ``HecReceiver`` implements the HEC event endpoint's
documented semantics (``/services/collector/event``): ``Authorization: Splunk <token>`` (401
code 2 without it, 401 code 3 when malformed, 403 code 4 for a wrong token), a body of
concatenated JSON event objects each with a non-empty ``event`` (400 code 6 "Invalid data
format" or 12/13 with ``invalid-event-number``), ``time`` as epoch seconds, and 200
``{"text": "Success", "code": 0}``; ``busy`` answers the next requests 503 code 9
("Server is busy") as an overloaded indexer does.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from shieldx.platform.tls import development_certificate

_RECORD = """template(name="rec" type="list" option.jsonf="on") {
  property(outname="input" name="inputname" format="jsonf")
  property(outname="pri" name="pri" format="jsonf")
  property(outname="facility" name="syslogfacility" format="jsonf")
  property(outname="severity" name="syslogseverity" format="jsonf")
  property(outname="version" name="protocol-version" format="jsonf")
  property(outname="timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="app" name="app-name" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="sd" name="structured-data" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
}
"""


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port free on 127.0.0.1 for KIND (TCP or UDP) right now."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Rsyslog:
    """rsyslogd with UDP, TCP and TLS (ossl) inputs on loopback, writing one JSON line per
    message it parsed (its RFC 5424 fields as rsyslog understood them)."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary = binary
        self.dir = directory
        self.out = directory / "received.jsonl"
        self.cert, self.key = development_certificate(directory / "certs")
        self.udp_port = free_port(socket.SOCK_DGRAM)
        self.tcp_port = free_port()
        self.tls_port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    def _config(self) -> str:
        d = self.dir
        return (
            f'global(workDirectory="{d}" maxMessageSize="64k"\n'
            f'  DefaultNetstreamDriverCAFile="{self.cert}"\n'
            f'  DefaultNetstreamDriverCertFile="{self.cert}"\n'
            f'  DefaultNetstreamDriverKeyFile="{self.key}")\n'
            'module(load="imudp")\nmodule(load="imtcp")\n'
            f'input(type="imudp" address="127.0.0.1" port="{self.udp_port}" name="udp")\n'
            f'input(type="imtcp" address="127.0.0.1" port="{self.tcp_port}" name="tcp")\n'
            f'input(type="imtcp" address="127.0.0.1" port="{self.tls_port}" name="tls"'
            ' StreamDriver.Name="ossl" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")\n'
            f"{_RECORD}"
            f'action(type="omfile" file="{self.out}" template="rec")\n'
        )

    def __enter__(self) -> Rsyslog:
        self.dir.mkdir(parents=True, exist_ok=True)
        conf = self.dir / "rsyslog.conf"
        conf.write_text(self._config())
        with (self.dir / "rsyslog.log").open("wb") as errors:
            self._proc = subprocess.Popen(
                [self.binary, "-n", "-f", str(conf), "-i", str(self.dir / "rsyslog.pid")],
                stdout=subprocess.DEVNULL,
                stderr=errors,
            )
        deadline = time.monotonic() + 20
        while not self._listening():
            if self._proc.poll() is not None:
                raise RuntimeError(f"rsyslogd exited: {(self.dir / 'rsyslog.log').read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError("rsyslogd did not listen within 20 s")
            time.sleep(0.05)
        return self

    def _listening(self) -> bool:
        for port in (self.tcp_port, self.tls_port):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            except OSError:
                return False
        return True

    def records(self) -> list[dict[str, Any]]:
        """Every message rsyslog wrote so far, as its parsed fields."""
        if not self.out.exists():
            return []
        lines = self.out.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        """The records once at least COUNT arrived; AssertionError after TIMEOUT."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.records()
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"rsyslog wrote {len(found)} of {count} messages: {found}")
            time.sleep(0.05)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None:
            os.kill(self._proc.pid, signal.SIGTERM)
            self._proc.wait(timeout=20)


class HecReceiver:
    """The Splunk HEC event endpoint over real HTTP on loopback (see the module docstring)."""

    PATH = "/services/collector/event"

    def __init__(self, token: str) -> None:
        self.token = token
        self.events: list[dict[str, Any]] = []
        self.requests: list[dict[str, str]] = []
        self.busy = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status, answer = receiver.handle(self.path, dict(self.headers.items()), body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        """The collector's answer to one POST (and the events it accepted, kept)."""
        with self._lock:
            self.requests.append({k.lower(): v for k, v in headers.items()})
            if path.split("?")[0] != self.PATH:
                return 404, {"text": "The requested URL was not found on this server.", "code": 404}
            auth = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
            if auth is None:
                return 401, {"text": "Token is required", "code": 2}
            scheme, _, token = auth.partition(" ")
            if scheme != "Splunk" or not token:
                return 401, {"text": "Invalid authorization", "code": 3}
            if token != self.token:
                return 403, {"text": "Invalid token", "code": 4}
            if self.busy > 0:
                self.busy -= 1
                return 503, {"text": "Server is busy", "code": 9}
            accepted: list[dict[str, Any]] = []
            decoder = json.JSONDecoder()
            text = body.decode("utf-8")
            index = 0
            number = 0
            while True:
                while index < len(text) and text[index].isspace():
                    index += 1
                if index >= len(text):
                    break
                try:
                    item, index = decoder.raw_decode(text, index)
                except ValueError:
                    return 400, {
                        "text": "Invalid data format",
                        "code": 6,
                        "invalid-event-number": number,
                    }
                if not isinstance(item, dict) or "event" not in item:
                    return 400, {
                        "text": "Event field is required",
                        "code": 12,
                        "invalid-event-number": number,
                    }
                if item["event"] in ("", None, {}):
                    return 400, {
                        "text": "Event field cannot be blank",
                        "code": 13,
                        "invalid-event-number": number,
                    }
                if "time" in item and not isinstance(item["time"], int | float):
                    return 400, {
                        "text": "Invalid data format",
                        "code": 6,
                        "invalid-event-number": number,
                    }
                accepted.append(item)
                number += 1
            if not accepted:
                return 400, {"text": "No data", "code": 5}
            self.events.extend(accepted)
            return 200, {"text": "Success", "code": 0}

    def __enter__(self) -> HecReceiver:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.server.shutdown()
        self.server.server_close()


def parse_cef(line: str) -> tuple[list[str], dict[str, str]]:
    """The seven header fields and the extension of one CEF line, unescaped per the spec."""
    assert line.startswith("CEF:")
    header: list[str] = []
    field: list[str] = []
    i = 4
    while len(header) < 7:
        c = line[i]
        if c == "\\":
            nxt = line[i + 1]
            assert nxt in "|\\", f"header escape \\{nxt} is not in the spec"
            field.append(nxt)
            i += 2
            continue
        assert c not in "\r\n", "a header field holds a line break"
        if c == "|":
            header.append("".join(field))
            field = []
        else:
            field.append(c)
        i += 1
    ext_text = line[i:]
    # Keys are the words before an unescaped '='; a value runs to the space before the next key.
    starts = [
        m for m in re.finditer(r"(?:^| )([A-Za-z0-9_]+)=", ext_text) if not _escaped(ext_text, m)
    ]
    ext: dict[str, str] = {}
    for n, m in enumerate(starts):
        end = starts[n + 1].start() if n + 1 < len(starts) else len(ext_text)
        raw = ext_text[m.end() : end]
        assert "\n" not in raw and "\r" not in raw
        ext[m.group(1)] = _unescape_value(raw)
    return header, ext


def _escaped(text: str, match: re.Match[str]) -> bool:
    eq = match.end() - 1
    backslashes = len(text[:eq]) - len(text[:eq].rstrip("\\"))
    return backslashes % 2 == 1


def _unescape_value(raw: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == "\\":
            nxt = raw[i + 1]
            out.append({"n": "\n", "r": "\r", "=": "=", "\\": "\\"}[nxt])
            i += 2
            continue
        assert c != "=", f"an unescaped '=' in a value: {raw!r}"
        out.append(c)
        i += 1
    return "".join(out)
