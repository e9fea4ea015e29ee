#!/usr/bin/env python3
"""Start Debian's real nginx or apache2 on a loopback port and save its answer to every request
of the decoy comparison corpus, one file per request, so a template can be written or checked
against the exact bytes. Needs no network beyond loopback; run as root (the servers drop to
www-data themselves).

    .venv/bin/python scripts/capture_decoy_responses.py nginx /tmp/nginx-capture
    .venv/bin/python scripts/capture_decoy_responses.py apache /tmp/apache-capture [NAME ...]
"""

from __future__ import annotations

import argparse
import importlib.util
import socket
import sys
import tempfile
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent / "tests" / "camouflage" / "decoys"
MTIME = 1700000000


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"capture_{name}", TESTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def exchange(port: int, data: bytes, idle: float = 0.5) -> tuple[bytes, bool]:
    """Send raw bytes, read until the server closes or stays quiet; return (bytes, closed)."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(data)
        sock.settimeout(idle)
        out = bytearray()
        try:
            while chunk := sock.recv(65536):
                out += chunk
            return bytes(out), True
        except TimeoutError:
            return bytes(out), False
        except ConnectionResetError:
            return bytes(out), True


def main() -> int:
    """Parse arguments, run the server, save the answers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("server", choices=["nginx", "apache"])
    parser.add_argument("out", type=Path)
    parser.add_argument("names", nargs="*", help="only these corpus entries")
    args = parser.parse_args()
    realservers = _load("realservers")
    corpus = _load("corpus")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        start = realservers.start_nginx if args.server == "nginx" else realservers.start_apache
        server = start(Path(tmp), mtime=MTIME)
        try:
            for name, data in corpus.CORPUS:
                if args.names and name not in args.names:
                    continue
                answer, closed = exchange(server.port, data)
                (args.out / f"{name}.bin").write_bytes(answer)
                print(f"{name:32} {len(answer):6} bytes  closed={closed}")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
