"""Bait and maze files against the real servers: the same file, the same bytes on the wire.

Each file the decoy serves (the bait files at their exact paths, a few files deep in the maze)
is written into the real server's document root with the same bytes and modification time;
then a battery of requests (methods, ranges, conditionals, compression) goes to both, and the
answers must be byte-equal apart from Date. A maze prefix without its slash is compared with a
real directory of that name (301 with an absolute Location).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shieldx.camouflage.decoys import DynamicRequest, load_template
from shieldx.camouflage.honeytokens.service import HoneytokenPlanter
from shieldx.camouflage.maze import pages as maze_pages
from shieldx.camouflage.maze.markers import MazeKeys
from shieldx.camouflage.maze.site import CpuBudget, MazeOptions, MazeSite, Tarpit
from shieldx.camouflage.sessions.tracker import LiveSession, SessionTracker
from shieldx.camouflage.synth import Synthesizer
from shieldx.platform.context import PlatformContext

from .. import realservers
from ..conftest import DecoyHost, _real, require_tool
from ..corpus import normalize
from ..realservers import APACHE_SERVER_NAME, RealServer
from ..wire import exchange, exchange_all, head_of

TEMPLATES = {"nginx": "nginx-1.22.1-debian", "apache": "apache-2.4.71-debian"}
BAIT = ("/.env", "/.git/config", "/.aws/credentials")
#: The install's time: a month ago (httpd makes ETags weak for files changed in the last second).
ANCHOR = int(time.time()) - 30 * 86_400


def _site(ctx: PlatformContext, flavor: str, port: int) -> MazeSite:
    template = load_template(TEMPLATES[flavor])
    tracker = SessionTracker(
        idle_timeout_s=75, max_live=100, max_tracked_paths=64, on_close=lambda s, r: None
    )

    def resolve(request: DynamicRequest, marked: str | None) -> LiveSession:
        return tracker.session_for(
            source_ip=request.peer_host,
            user_agent="t",
            decoy="web",
            template=template.name,
            source_port=request.peer_port,
            now=0.0,
            session_id=marked,
        )

    return MazeSite(
        decoy="web",
        server=maze_pages.Server(flavor, template.config, APACHE_SERVER_NAME, port),
        options=MazeOptions(
            prefixes=("/backup/",),
            entries=(6, 10),
            records=(5, 10),
            tarpit=(0.0, 0.0),
            robots_txt=False,
            bait_paths=BAIT,
            anchor=ANCHOR,
        ),
        keys=MazeKeys(b"differential" * 3),
        synthesizer=Synthesizer(),
        planter=HoneytokenPlanter(
            ctx.honeytokens, kinds=["api_key", "jwt", "password", "cloud_key"],
            on_planted=lambda s, p, path: None,
        ),
        resolve_session=resolve,
        log_generated=lambda *a: None,
        budget=CpuBudget(1.0),
        tarpit=Tarpit(1),
        cache_size=64,
    )  # fmt: skip


def _place(root: Path, path: str, body: bytes, mtime: float) -> None:
    """Write a file into a real server's document root with the decoy's mtime."""
    target = root / "html" / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    for parent in [target.parent, *target.parent.parents]:
        if parent == root:
            break
        parent.chmod(0o755)
    target.write_bytes(body)
    target.chmod(0o644)
    ns = round(mtime * 1_000_000) * 1000
    os.utime(target, ns=(ns, ns))


def _requests(path: str, etags: list[str], last_modified: str) -> list[tuple[str, bytes]]:
    def req(*headers: str, method: str = "GET") -> bytes:
        return "\r\n".join([f"{method} {path} HTTP/1.1", "Host: x", *headers, "", ""]).encode()

    tags = ", ".join(etags)
    return [
        ("get", req()),
        ("head", req(method="HEAD")),
        ("http10", f"GET {path} HTTP/1.0\r\n\r\n".encode()),
        ("range", req("Range: bytes=0-9")),
        ("range-suffix", req("Range: bytes=-7")),
        ("range-open", req("Range: bytes=5-")),
        ("range-multi", req("Range: bytes=0-3,10-20")),
        ("range-416", req("Range: bytes=999999-")),
        ("inm", req(f"If-None-Match: {tags}")),
        ("inm-other", req('If-None-Match: "nope"')),
        ("ims", req(f"If-Modified-Since: {last_modified}")),
        ("ims-old", req("If-Modified-Since: Mon, 01 Jan 2001 00:00:00 GMT")),
        ("if-match-other", req('If-Match: "nope"')),
        ("ius-old", req("If-Unmodified-Since: Mon, 01 Jan 2001 00:00:00 GMT")),
        ("if-range-date", req("Range: bytes=0-9", f"If-Range: {last_modified}")),
        ("if-range-etag", req("Range: bytes=0-9", f"If-Range: {etags[0]}")),
        ("gzip", req("Accept-Encoding: gzip, deflate")),
        ("post", req("Content-Length: 0", method="POST")),
        ("delete", req(method="DELETE")),
        ("options", req(method="OPTIONS")),
        ("trace", req(method="TRACE")),
        ("query", req().replace(path.encode() + b" ", path.encode() + b"?x=1 ", 1)),
        ("slash", req().replace(path.encode() + b" ", path.encode() + b"/ ", 1)),
    ]


@dataclass
class Pair:
    """A decoy with a maze beside the real server whose document root mirrors it."""

    real: RealServer
    decoy_port: int
    site: MazeSite


def _pair(flavor: str, real: RealServer, host: DecoyHost, ctx: PlatformContext) -> Iterator[Pair]:
    site = _site(ctx, flavor, real.port)
    options = {"dynamic_routes": site.routes(), "public_port": real.port}
    if flavor == "apache":
        options["server_name"] = APACHE_SERVER_NAME
    decoy = host.start(TEMPLATES[flavor], name="web", **options)
    try:
        yield Pair(real, decoy.port, site)
    finally:
        host.stop(decoy)


@pytest.fixture(scope="module")
def own_nginx() -> Iterator[RealServer]:
    """A real nginx of this module's own (its document root gets the decoy's files)."""
    require_tool(str(realservers.NGINX), "nginx-light")
    yield from _real(realservers.start_nginx, "shieldx-nginx-files-")


@pytest.fixture(scope="module")
def own_apache() -> Iterator[RealServer]:
    """A real apache2 of this module's own."""
    require_tool(str(realservers.APACHE), "apache2")
    yield from _real(realservers.start_apache, "shieldx-apache-files-")


@pytest.fixture(params=["nginx", "apache"])
def pair(
    request: pytest.FixtureRequest,
    decoy_host: DecoyHost,
    platform_ctx: PlatformContext,
) -> Iterator[Pair]:
    """The decoy and the real server of one flavor."""
    real: RealServer = request.getfixturevalue(f"own_{request.param}")
    yield from _pair(request.param, real, decoy_host, platform_ctx)


def _compare(pair: Pair, path: str) -> int:
    first = exchange(pair.decoy_port, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    _, headers, _ = head_of(first.data)
    fields = dict(headers)
    etags = [fields["ETag"]] if "ETag" in fields else ['"x"']
    probes = _requests(path, etags, fields["Last-Modified"])
    real = exchange_all(pair.real.port, probes)
    decoy = exchange_all(pair.decoy_port, probes)
    for name, _ in probes:
        got, want = normalize(decoy[name].data), normalize(real[name].data)
        assert got == want, (path, name, got[:400], want[:400])
        assert decoy[name].closed == real[name].closed, (path, name)
    return len(probes)


def test_bait_files_are_served_exactly_like_a_real_file(pair: Pair) -> None:
    compared = 0
    for path in BAIT:
        body, mtime, _ = pair.site.bait_file(path)
        _place(pair.real.root, path, body, mtime)
        compared += _compare(pair, path)
    assert compared == len(BAIT) * 23


def _marked_root(pair: Pair) -> str:
    first = exchange(pair.decoy_port, b"GET /backup/ HTTP/1.1\r\nHost: x\r\n\r\n")
    status, headers, _ = head_of(first.data)
    assert status.startswith("HTTP/1.1 302 ")
    location = dict(headers)["Location"]
    prefix = f"http://x:{pair.real.port}"
    assert location.startswith(prefix + "/backup/")
    return location.removeprefix(prefix)


def test_maze_files_are_served_exactly_like_real_files(pair: Pair) -> None:
    root = _marked_root(pair)
    marker = root.split("/")[2]
    session = pair.site.keys.session_of(marker) or ""
    window = pair.site.root_window("/backup/")
    files = [e for e in pair.site.entries("/backup/", window, session) if not e.is_dir]
    assert files
    for entry in files[:4]:
        path = root + entry.name
        served = exchange(pair.decoy_port, f"GET {path} HTTP/1.0\r\n\r\n".encode()).data
        _, _, body = head_of(served)
        assert len(body) == entry.size  # the listing's size is the served size
        found = asyncio.run(
            pair.site.maze_page(DynamicRequest("web", "t", "h", 1, "GET", path, "", (), b""))
        )
        assert found is not None and found.mtime is not None and found.body == body
        _place(pair.real.root, path, body, found.mtime)
        _compare(pair, path)


def test_a_maze_prefix_without_its_slash_moves_like_a_real_directory(pair: Pair) -> None:
    (pair.real.root / "html" / "backup").mkdir(exist_ok=True)
    (pair.real.root / "html" / "backup").chmod(0o755)
    for raw in (
        b"GET /backup HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /backup?a=b HTTP/1.1\r\nHost: x:1234\r\n\r\n",
        b"HEAD /backup HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /backup HTTP/1.0\r\n\r\n",
    ):
        real = exchange(pair.real.port, raw)
        decoy = exchange(pair.decoy_port, raw)
        assert normalize(decoy.data) == normalize(real.data), (raw, decoy.data, real.data)


def test_an_apache_maze_listing_matches_mod_autoindex(
    own_apache: RealServer, decoy_host: DecoyHost, platform_ctx: PlatformContext
) -> None:
    for pair in _pair("apache", own_apache, decoy_host, platform_ctx):
        root = _marked_root(pair)
        session = pair.site.keys.session_of(root.split("/")[2]) or ""
        window = pair.site.root_window("/backup/")
        entries = pair.site.entries("/backup/", window, session)
        base = pair.real.root / "html" / root.strip("/")
        for entry in entries:
            if entry.is_dir:
                (base / entry.name).mkdir(parents=True, exist_ok=True)
                (base / entry.name).chmod(0o755)
                os.utime(base / entry.name, (entry.mtime, entry.mtime))
            else:
                _place(pair.real.root, root + entry.name, b"x" * entry.size, entry.mtime)
        request = f"GET {root} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        real = exchange(pair.real.port, request)
        decoy = exchange(pair.decoy_port, request)
        got, want = normalize(decoy.data).decode(), normalize(real.data).decode()
        assert got == want


def _start_nginx_autoindex(root: Path, *, mtime: int) -> RealServer:
    """Debian's nginx with `autoindex on` (what a decoy with a maze stands for)."""
    port = realservers.free_port()
    html = realservers._docroot(
        root, realservers.NGINX_DEFAULT_PAGE, "index.nginx-debian.html", mtime
    )
    conf = root / "nginx.conf"
    text = realservers.nginx_config(root, port, html)
    conf.write_text(
        text.replace(
            "try_files $uri $uri/ =404;", "try_files $uri $uri/ =404;\n            autoindex on;"
        )
    )
    proc = subprocess.Popen(
        [str(realservers.NGINX), "-p", str(root), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    realservers.wait_listening(port, proc)
    return RealServer("nginx", port, proc, root)


def test_an_nginx_maze_listing_matches_autoindex(
    decoy_host: DecoyHost, platform_ctx: PlatformContext
) -> None:
    require_tool(str(realservers.NGINX), "nginx-light")
    for real in _real(_start_nginx_autoindex, "shieldx-nginx-autoindex-"):
        for pair in _pair("nginx", real, decoy_host, platform_ctx):
            root = _marked_root(pair)
            session = pair.site.keys.session_of(root.split("/")[2]) or ""
            entries = pair.site.entries("/backup/", pair.site.root_window("/backup/"), session)
            base = pair.real.root / "html" / root.strip("/")
            for entry in entries:
                if entry.is_dir:
                    (base / entry.name).mkdir(parents=True, exist_ok=True)
                    (base / entry.name).chmod(0o755)
                    os.utime(base / entry.name, (entry.mtime, entry.mtime))
                else:
                    _place(pair.real.root, root + entry.name, b"x" * entry.size, entry.mtime)
            for request in (
                f"GET {root} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
                f"GET {root} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n".encode(),
                f"GET {root} HTTP/1.0\r\n\r\n".encode(),
                f"HEAD {root} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
            ):
                got = normalize(exchange(pair.decoy_port, request).data).decode("latin-1")
                want = normalize(exchange(pair.real.port, request).data).decode("latin-1")
                assert got == want
