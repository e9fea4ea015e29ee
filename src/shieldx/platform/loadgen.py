"""Real load generators (wrk, else hey) and a server subprocess to point them at."""

from __future__ import annotations

import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_LISTENER = re.compile(r"^\s+(\w+)\s+(http://\S+)$")
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


class LoadGenError(Exception):
    """No load generator is available or it failed; the message says what to install."""


@dataclass(frozen=True)
class LoadResult:
    """What one load-generator run measured."""

    tool: str
    target: str
    connections: int
    duration_s: float
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int

    def as_dict(self) -> dict[str, object]:
        """Plain data for JSON output."""
        return {
            "tool": self.tool,
            "target": self.target,
            "connections": self.connections,
            "duration_s": self.duration_s,
            "requests": self.requests,
            "rps": round(self.rps, 1),
            "p50_ms": round(self.p50_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "errors": self.errors,
        }


def find_tool(install: bool = True) -> str:
    """Return 'wrk' or 'hey', installing wrk with apt-get when allowed and possible."""
    for tool in ("wrk", "hey"):
        if shutil.which(tool):
            return tool
    if install and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", "wrk"],
            check=False,
            capture_output=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        if shutil.which("wrk"):
            return "wrk"
    raise LoadGenError(
        "no load generator found: install one with 'apt-get install -y wrk' (or hey)"
    )


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if match is None:
        raise LoadGenError(f"cannot parse latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _wrk_lua(method: str, body: bytes | None, headers: Mapping[str, str]) -> str:
    lines = [f'wrk.method = "{method}"']
    for name, value in headers.items():
        lines.append(f'wrk.headers["{name}"] = "{value}"')
    if body is not None:
        escaped = body.decode().replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'wrk.body = "{escaped}"')
    return "\n".join(lines) + "\n"


def run_load(
    url: str,
    *,
    connections: int = 100,
    duration: float = 10.0,
    threads: int = 2,
    method: str = "GET",
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    lua_script: str | None = None,
    tool: str | None = None,
) -> LoadResult:
    """Drive URL with the load generator and parse its report."""
    tool = tool or find_tool()
    headers = dict(headers or {})
    if tool == "wrk":
        return _run_wrk(url, connections, duration, threads, method, body, headers, lua_script)
    return _run_hey(url, connections, duration, method, body, headers)


def _run_wrk(
    url: str,
    connections: int,
    duration: float,
    threads: int,
    method: str,
    body: bytes | None,
    headers: dict[str, str],
    lua_script: str | None,
) -> LoadResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(lua_script or _wrk_lua(method, body, headers))
        script = handle.name
    try:
        proc = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(duration))}s",
                "--latency",
                "-s",
                script,
                url,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        os.unlink(script)
    text = proc.stdout
    if proc.returncode != 0 or "Requests/sec" not in text:
        raise LoadGenError(f"wrk failed: {proc.stderr.strip() or text.strip()}")
    # wrk pads some values with a trailing space (seen when p99 reaches seconds).
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", text, re.MULTILINE))
    requests = int(re.search(r"(\d+) requests in", text).group(1))  # type: ignore[union-attr]
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if non2xx:
        errors += int(non2xx.group(1))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if sock:
        errors += sum(int(g) for g in sock.groups())
    return LoadResult(
        tool="wrk",
        target=url,
        connections=connections,
        duration_s=duration,
        requests=requests,
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),  # type: ignore[union-attr]
        p50_ms=_ms(percentiles["50"]),
        p99_ms=_ms(percentiles["99"]),
        errors=errors,
    )


def _run_hey(
    url: str,
    connections: int,
    duration: float,
    method: str,
    body: bytes | None,
    headers: dict[str, str],
) -> LoadResult:
    args = ["hey", "-z", f"{duration}s", "-c", str(connections), "-m", method]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    if body is not None:
        args += ["-d", body.decode()]
    proc = subprocess.run([*args, url], capture_output=True, text=True, check=False)
    text = proc.stdout
    if proc.returncode != 0 or "Requests/sec" not in text:
        raise LoadGenError(f"hey failed: {proc.stderr.strip() or text.strip()}")
    pct = dict(re.findall(r"^\s+(50|99)%+ in ([\d.]+) secs", text, re.MULTILINE))
    codes = re.findall(r"\[(\d{3})\]\s+(\d+) responses", text)
    total = sum(int(n) for _, n in codes)
    errors = sum(int(n) for code, n in codes if not code.startswith(("2", "3")))
    return LoadResult(
        tool="hey",
        target=url,
        connections=connections,
        duration_s=duration,
        requests=total,
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),  # type: ignore[union-attr]
        p50_ms=float(pct["50"]) * 1000,
        p99_ms=float(pct["99"]) * 1000,
        errors=errors,
    )


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RunningServer:
    """A shieldx process started by spawn_server, with its listeners' URLs."""

    process: subprocess.Popen[str]
    urls: dict[str, str]
    admin_key: str
    banner: list[str]


@contextmanager
def spawn_server(
    args: list[str],
    *,
    data_dir: Path,
    admin_key: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> Iterator[RunningServer]:
    """Start 'shieldx ARGS' as a subprocess, wait for its ready banner, stop it with SIGTERM."""
    full_env = {
        **os.environ,
        "SHIELDX_DATA_DIR": str(data_dir),
        "SHIELDX_BOOTSTRAP_ADMIN_KEY": admin_key,
        **(env or {}),
    }
    # Debugging aid: the server's log on our stderr. Not a setting, so it is not passed on.
    show_log = full_env.pop("SHIELDX_BENCH_STDERR", None) is not None
    proc = subprocess.Popen(
        [sys.executable, "-m", "shieldx", *args],
        stdout=subprocess.PIPE,
        stderr=None if show_log else subprocess.DEVNULL,
        text=True,
        env=full_env,
    )
    try:
        banner = read_banner(proc, timeout)
        urls = {m.group(1): m.group(2) for line in banner if (m := _LISTENER.match(line))}
        yield RunningServer(process=proc, urls=urls, admin_key=admin_key, banner=banner)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def read_banner(proc: subprocess.Popen[str], timeout: float) -> list[str]:
    """Read stdout lines up to 'Ready.'; raise if the process exits first or stays silent."""
    assert proc.stdout is not None
    stream = proc.stdout
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        # Keeps draining stdout after the banner so the child never blocks on a full pipe.
        try:
            for line in stream:
                lines.put(line.rstrip("\n"))
        finally:
            stream.close()
            lines.put(None)

    threading.Thread(target=pump, daemon=True, name="banner-reader").start()
    seen: list[str] = []
    while True:
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            raise LoadGenError(f"server printed no ready banner within {timeout} s") from None
        if line is None:
            raise LoadGenError(f"server exited with {proc.wait()} before it was ready: {seen}")
        seen.append(line)
        if line.startswith("Ready."):
            return seen
