"""The maze: deterministic pages in each server's style, markers, bait files, budget, tarpit."""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import re
import time
from collections.abc import Callable

import orjson
import pytest

from shieldx.camouflage.decoys import DynamicRequest, DynamicResponse, load_template
from shieldx.camouflage.honeytokens.service import HoneytokenPlanter, Planted
from shieldx.camouflage.maze import bait_files
from shieldx.camouflage.maze import pages as maze_pages
from shieldx.camouflage.maze.markers import MazeKeys
from shieldx.camouflage.maze.site import CpuBudget, MazeOptions, MazeSite, Tarpit
from shieldx.camouflage.sessions.tracker import LiveSession, SessionTracker
from shieldx.camouflage.synth import Synthesizer
from shieldx.platform.context import PlatformContext
from shieldx.platform.honeytokens import token_hash

TEMPLATES = {
    "nginx": "nginx-1.22.1-debian",
    "apache": "apache-2.4.71-debian",
    "iis": "iis-10.0",
    "tomcat": "tomcat-9.0.107",
}
SYNTH = Synthesizer()
#: The install's time in these tests (2026-06-01).
ANCHOR = 1780272000


class Maze:
    """A MazeSite on a tracker, planting through a real registry."""

    def __init__(self, ctx: PlatformContext, flavor: str = "nginx", *, tarpit: float = 0.0,
                 budget: float = 1.0) -> None:  # fmt: skip
        template = load_template(TEMPLATES[flavor])
        self.tracker = SessionTracker(
            idle_timeout_s=75, max_live=100, max_tracked_paths=64, on_close=lambda s, r: None
        )
        self.planted: list[tuple[str, list[Planted], str]] = []
        self.generated: list[tuple[str, str, int]] = []
        self.keys = MazeKeys(b"secret" * 6)
        self.site = MazeSite(
            decoy="web",
            server=maze_pages.Server(flavor, template.config, "files.example.com", 8443),
            options=MazeOptions(
                prefixes=("/backup/",),
                entries=(8, 16),
                records=(20, 40),
                tarpit=(tarpit / 2, tarpit),
                robots_txt=True,
                bait_paths=("/.env", "/.git/config"),
                anchor=ANCHOR,
            ),
            keys=self.keys,
            synthesizer=SYNTH,
            planter=HoneytokenPlanter(
                ctx.honeytokens,
                kinds=["api_key", "jwt", "password", "cloud_key"],
                on_planted=lambda s, p, path: self.planted.append((s.id, p, path)),
            ),
            resolve_session=self._resolve,
            log_generated=lambda s, path, kind, seed, count: self.generated.append(
                (path, kind, count)
            ),
            budget=CpuBudget(budget),
            tarpit=Tarpit(2),
            cache_size=16,
        )

    def _resolve(self, request: DynamicRequest, marked: str | None) -> LiveSession:
        return self.tracker.session_for(
            source_ip=request.peer_host,
            user_agent="scraper",
            decoy="web",
            template="t",
            source_port=request.peer_port,
            now=0.0,
            session_id=marked,
        )

    def get(
        self, path: str, ip: str = "198.51.100.3", headers: tuple[tuple[str, str], ...] = ()
    ) -> DynamicResponse | None:
        request = DynamicRequest("web", "t", ip, 5000, "GET", path, "", headers, b"")
        provider = self.site.maze_page if path.startswith("/backup/") else self.site.bait_page
        return asyncio.run(provider(request))

    def enter(self, ip: str = "198.51.100.3") -> str:
        """Follow the first redirect: the marked root URL (its path)."""
        first = self.get("/backup/", ip)
        assert first is not None and first.status == 302
        location = dict(first.extra_headers)["Location"]
        assert location.startswith("http://files.example.com:8443/backup/")
        return location.removeprefix("http://files.example.com:8443")


@pytest.fixture
def maze(platform_ctx: PlatformContext) -> Callable[..., Maze]:
    return lambda *a, **k: Maze(platform_ctx, *a, **k)


def _links(body: bytes) -> list[str]:
    return re.findall(r'(?i)href="([^"?]+)"', body.decode())


def test_unmarked_requests_redirect_to_the_marked_url(maze: Callable[..., Maze]) -> None:
    m = maze()
    root = m.enter()
    session = m.tracker._live[next(iter(m.tracker._live))]
    assert root == "/backup/" + m.keys.marker(session.id) + "/"
    page = m.get(root)
    assert page is not None and page.status == 200
    assert b"Index of " + root.encode() in page.body


def test_pages_are_deterministic_and_only_listed_paths_exist(maze: Callable[..., Maze]) -> None:
    m = maze()
    root = m.enter()
    first = m.get(root)
    again = m.get(root)
    assert first is not None and again is not None and first.body == again.body
    # Another maze with the same secret shows the same site (a revisit after a restart).
    other = maze()
    other_root = other.enter("203.0.113.8")
    other_page = other.get(other_root, "203.0.113.8")
    assert other_page is not None
    assert _links(other_page.body) == _links(first.body)
    subdirs = [link for link in _links(first.body) if link.endswith("/") and link != "../"]
    assert subdirs
    deeper = m.get(root + subdirs[0])
    assert deeper is not None and deeper.status == 200
    assert m.get(root + "not-listed-anywhere/") is None
    assert m.site.depth(root + subdirs[0]) == 1 and m.site.depth("/elsewhere/") == 0


def _walk_to_file(m: Maze, root: str, wanted: Callable[[str], bool], limit: int = 60) -> str | None:
    queue = [root]
    seen = 0
    while queue and seen < limit:
        url = queue.pop(0)
        page = m.get(url)
        seen += 1
        assert page is not None, url
        for link in _links(page.body):
            if link in ("../",):
                continue
            if link.endswith("/"):
                queue.append(url + link)
            elif wanted(link):
                return url + link
    return None


def test_config_files_carry_the_sessions_own_planted_honeytokens(
    maze: Callable[..., Maze], platform_ctx: PlatformContext
) -> None:
    m = maze()
    root = m.enter()
    url = _walk_to_file(
        m, root, lambda name: name in (".env", ".env.production", "credentials.txt")
    )
    assert url is not None
    page = m.get(url)
    assert page is not None
    text = page.body.decode()
    key = re.search(r"sk_live_[A-Za-z0-9]{24}", text)
    assert key is not None
    assert re.search(r"AKIA[A-Z2-7]{16}", text)
    assert "shieldx" not in text.lower() and "shx_" not in text
    # Planted: the registry knows the key's hash and whose session saw it.
    session_id, planted, path = m.planted[0]
    kinds = {kind for kind, _, _ in planted}
    assert {"api_key", "password", "cloud_key", "cloud_secret"} <= kinds
    assert path.startswith("/backup/") and m.keys.marker(session_id) not in path
    value_of = {kind: value for kind, value, _ in planted}
    assert value_of["api_key"] == key.group(0)
    with platform_ctx.db.read() as conn:
        row = conn.exec_driver_sql(
            "SELECT session_id, kind FROM honeytokens WHERE token_hash = ?",
            (token_hash(key.group(0)),),
        ).one()
    assert tuple(row) == (session_id, "api_key")
    # A revisit shows the same values; another session gets its own.
    assert m.get(url) is not None and m.get(url).body == page.body  # type: ignore[union-attr]
    bait = m.get("/.env", "192.0.2.99")
    assert bait is not None and key.group(0).encode() not in bait.body
    assert re.search(rb"sk_live_[A-Za-z0-9]{24}", bait.body)


def test_data_files_hold_synthetic_records(maze: Callable[..., Maze]) -> None:
    m = maze("apache")
    root = m.enter()
    url = _walk_to_file(m, root, lambda n: n.endswith((".csv", ".json", ".sql.gz", ".log")))
    assert url is not None
    page = m.get(url)
    assert page is not None and page.status == 200
    name = url.rsplit("/", 1)[-1]
    if name.endswith(".csv"):
        rows = list(csv.DictReader(io.StringIO(page.body.decode())))
        assert 20 <= len(rows) <= 40
    elif name.endswith(".json"):
        assert 20 <= len(orjson.loads(page.body)) <= 40
    elif name.endswith(".gz"):
        assert gzip.decompress(page.body).startswith(b"-- PostgreSQL database dump")
    else:
        assert page.body.count(b"\n") >= 20
    assert m.generated and m.generated[0][0].endswith(name)


@pytest.mark.parametrize(
    ("flavor", "marks"),
    [
        ("nginx", [b"<h1>Index of /backup/", b"<hr><pre><a href=\"../\">../</a>\r\n"]),
        ("apache", [b"<title>Index of /backup/", b"alt=\"[PARENTDIR]\"",
                    b"<address>Apache/2.4.71 (Debian) Server at files.example.com Port 8443</address>"]),
        ("iis", [b"files.example.com - /backup/", b"[To Parent Directory]"]),
        ("tomcat", [b"Directory Listing For [/backup/", b"<h3>Apache Tomcat/9.0.107</h3>"]),
    ],
)  # fmt: skip
def test_listings_look_like_each_servers_own(
    maze: Callable[..., Maze], flavor: str, marks: list[bytes]
) -> None:
    m = maze(flavor)
    page = m.get(m.enter())
    assert page is not None
    for mark in marks:
        assert mark in page.body, (flavor, mark)


def test_iis_lists_only_extensions_iis_would_serve(maze: Callable[..., Maze]) -> None:
    m = maze("iis")
    page = m.get(m.enter())
    assert page is not None
    names = re.findall(rb'HREF="[^"]*/([^/"]+)"', page.body)
    assert names
    assert all(n.rsplit(b".", 1)[-1] in (b"txt", b"json", b"csv") for n in names if b"." in n)


def test_redirects_are_absolute_and_the_prefix_without_slash_moves(
    maze: Callable[..., Maze],
) -> None:
    for flavor, template in TEMPLATES.items():
        config = load_template(template).config
        page = maze_pages.redirect("http://h/x/", maze_pages.Server(flavor, config, "h", 80))
        assert page.status == 302 and dict(page.extra_headers)["Location"] == "http://h/x/"
    m = maze()
    request = DynamicRequest(
        "web", "t", "1.2.3.4", 1, "GET", "/backup", "", (("Host", "x:99"),), b""
    )
    moved = asyncio.run(m.site.directory_redirect(request))
    assert moved is not None and moved.status == 301
    # nginx and httpd name the Host's host and the port the connection came in on.
    assert dict(moved.extra_headers)["Location"] == "http://x:8443/backup/"


def test_the_cpu_budget_sheds_pages_when_spent(maze: Callable[..., Maze]) -> None:
    m = maze(budget=0.001)
    root = m.enter()
    m.site.budget.spend(10.0)
    assert m.get(root) is None
    assert m.site.budget.shed == 1


def test_the_tarpit_is_bounded_and_deterministic(maze: Callable[..., Maze]) -> None:
    m = maze(tarpit=4.0)
    root = m.enter()
    first = m.get(root)
    assert first is not None and 2.0 <= first.delay_s <= 4.0
    assert m.get(root).delay_s == first.delay_s  # type: ignore[union-attr]
    # Two delayed answers are pending: the third goes out at once.
    assert m.get(root).delay_s == 0.0  # type: ignore[union-attr]


def test_robots_txt_and_bait_paths(maze: Callable[..., Maze]) -> None:
    m = maze()
    robots = asyncio.run(
        m.site.robots(DynamicRequest("web", "t", "1.2.3.4", 1, "GET", "/robots.txt", "", (), b""))
    )
    assert robots is not None and b"Disallow: /backup/" in robots.body
    git = m.get("/.git/config")
    assert git is not None and b'[remote "origin"]' in git.body
    assert set(bait_files.TOKENS) == set(bait_files.CONFIG_WRITERS)
    routes = dict(m.site.routes())
    assert set(routes) == {"/backup/", "/backup", "/.env", "/.git/config", "/robots.txt"}


def test_bait_files_are_stable_exact_and_name_no_product(maze: Callable[..., Maze]) -> None:
    m = maze()
    first = m.get("/.env", "192.0.2.1", (("User-Agent", "curl/8.0"),))
    other = m.get("/.env", "203.0.113.9", (("User-Agent", "Mozilla/5.0 (X11)"),))
    assert first is not None and other is not None
    assert first.body == other.body and first.mtime == other.mtime
    assert first.mtime is not None and first.mtime < ANCHOR
    text = first.body.decode().lower()
    assert "shieldx" not in text and "shx_" not in text and "127.0.0.1" not in text
    for near in ("/.envXYZ", "/.env/x/y", "/.env.bak", "/.git/configzzz"):
        assert m.get(near) is None, near  # the server's own 404
    # Both sessions are linked to the one planted set of tokens.
    sessions = {sid for sid, _, path in m.planted if path == "/.env"}
    ids = {tid for _, planted, path in m.planted if path == "/.env" for _, _, tid in planted}
    assert len(sessions) == 2 and len(ids) == 5  # password, AWS key and secret, Stripe, JWT
    # Another install (another secret) has other files.
    other_install = maze()
    other_install.site.keys = MazeKeys(b"other" * 7)
    assert other_install.site.bait_file("/.env")[0] != first.body


def test_listing_sizes_and_dates_match_what_is_served(maze: Callable[..., Maze]) -> None:
    m = maze()
    root = m.enter()
    marker = m.keys.session_of(root.split("/")[2]) or ""
    checked = 0
    queue = [root]
    while queue and checked < 12:
        url = queue.pop(0)
        logical = "/backup/" + url.split("/", 3)[3]
        window = m.site._window_of("/backup/", logical, marker)
        for entry in m.site.entries(logical, window, marker):
            assert entry.mtime <= ANCHOR
            if entry.is_dir:
                if entry.name.isdigit():
                    assert time.gmtime(entry.mtime).tm_year in (
                        int(entry.name),
                        int(entry.name) + 1,
                    )
                queue.append(url + entry.name + "/")
                continue
            page = m.get(url + entry.name)
            assert page is not None and len(page.body) == entry.size, url + entry.name
            assert page.mtime is not None and int(page.mtime) == entry.mtime
            checked += 1
    assert checked >= 5
