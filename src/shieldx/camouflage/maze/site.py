"""The maze: an endless deterministic site under a decoy's path prefixes, and its bait files.

Every page is a function of HMAC(decoy secret, decoy, path): a directory lists subdirectories
and files (names and dates from the page's seeded RNG, sizes those of the files as served), a
file is a config with honeytokens or an export of synthetic records, served with the mimicked
server's static-file headers (Last-Modified, ETag, ranges, conditionals). Only what a parent
lists exists (anything else gets the server's own 404), so the site is endless but consistent.
Dates are anchored on the install's own time (``anchor``): directories named after a year are
dated in that year, every child is older than its directory, nothing is after the anchor.

Links carry an opaque marker (markers.py) as the first segment after the prefix; a request
without one is redirected to the marked URL, and afterwards relative links keep it. A scraper
that changes address keeps presenting its marker, which ties its requests to its session.
Page generation is held to a CPU budget; an optional tarpit delays answers (bounded).
"""

from __future__ import annotations

import calendar
import random
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import anyio.to_thread

from shieldx.camouflage.decoys import DynamicContentProvider, DynamicRequest, DynamicResponse
from shieldx.camouflage.honeytokens.service import HoneytokenPlanter
from shieldx.camouflage.maze import bait_files
from shieldx.camouflage.maze import pages as maze_pages
from shieldx.camouflage.maze.catalog import (
    DIRECTORY_NAMES,
    content_type,
    kinds_for,
    served_names,
)
from shieldx.camouflage.maze.markers import MazeKeys
from shieldx.camouflage.sessions.tracker import LiveSession
from shieldx.camouflage.synth import Synthesizer, synth_records

MAX_DEPTH = 64
_DAY = 86_400
_YEAR = 365 * _DAY

ResolveSession = Callable[[DynamicRequest, str | None], LiveSession]
LogGenerated = Callable[[LiveSession, str, str, int, int], None]


@dataclass(frozen=True)
class MazeOptions:
    """The maze settings one decoy uses."""

    prefixes: tuple[str, ...]
    entries: tuple[int, int]
    records: tuple[int, int]
    tarpit: tuple[float, float]
    robots_txt: bool
    bait_paths: tuple[str, ...]
    #: The install's own time (seconds): the newest date anything in the maze can have.
    anchor: float = 0.0


class CpuBudget:
    """A token bucket of CPU seconds: RATE seconds per second, at most one second's worth."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.capacity = max(rate, 0.05)
        self._tokens = self.capacity
        self._clock = clock
        self._at = clock()
        self.shed = 0

    def available(self) -> bool:
        """Whether there is budget left (refilling first)."""
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
        self._at = now
        return self._tokens > 0

    def spend(self, seconds: float) -> None:
        """Charge SECONDS of CPU."""
        self._tokens -= seconds


class Tarpit:
    """Hands out delays while fewer than MAX_CONCURRENT delayed answers are pending."""

    def __init__(self, max_concurrent: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_concurrent = max_concurrent
        self._ends: deque[float] = deque()
        self._clock = clock

    def admit(self, delay: float) -> float:
        """DELAY if a slot is free, else 0 (the answer goes out at once)."""
        if delay <= 0:
            return 0.0
        now = self._clock()
        self._ends = deque(end for end in self._ends if end > now)
        if len(self._ends) >= self.max_concurrent:
            return 0.0
        self._ends.append(now + delay)
        return delay


class MazeSite:
    """The dynamic content providers of one decoy: maze prefixes, bait paths, robots.txt."""

    def __init__(
        self,
        *,
        decoy: str,
        server: maze_pages.Server,
        options: MazeOptions,
        keys: MazeKeys,
        synthesizer: Synthesizer,
        planter: HoneytokenPlanter,
        resolve_session: ResolveSession,
        log_generated: LogGenerated,
        budget: CpuBudget,
        tarpit: Tarpit,
        cache_size: int,
    ) -> None:
        self.decoy = decoy
        self.server = server
        self.options = options
        self.keys = keys
        self.synthesizer = synthesizer
        self.planter = planter
        self.resolve_session = resolve_session
        self.log_generated = log_generated
        self.budget = budget
        self.tarpit = tarpit
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cache_size = cache_size
        self._kinds = kinds_for(server.flavor)
        self._names = {kind: served_names(server.flavor, kind) for kind in self._kinds}
        self.identity = bait_files.Identity.from_rng(self._rng("identity"))
        self.anchor = options.anchor or float(_DAY * 20000)
        self._sizes: OrderedDict[str, int] = OrderedDict()

    def routes(self) -> tuple[tuple[str, DynamicContentProvider], ...]:
        """(prefix, provider) pairs for the decoy's dynamic_routes."""
        routes: list[tuple[str, DynamicContentProvider]] = []
        for prefix in self.options.prefixes:
            routes.append((prefix, self.maze_page))
            routes.append((prefix.rstrip("/"), self.directory_redirect))
        routes += [(path, self.bait_page) for path in self.options.bait_paths]
        if self.options.robots_txt and self.options.prefixes:
            routes.append(("/robots.txt", self.robots))
        return tuple(routes)

    # -- paths -----------------------------------------------------------------------------

    def split(self, path: str) -> tuple[str, str | None, str] | None:
        """(prefix, marked session or None, logical path) for a maze path, else None."""
        for prefix in self.options.prefixes:
            if path.startswith(prefix):
                rest = path[len(prefix) :]
                head, sep, tail = rest.partition("/")
                session = self.keys.session_of(head) if sep else None
                if session is not None:
                    return prefix, session, prefix + tail
                return prefix, None, path
        return None

    def depth(self, path: str) -> int:
        """How deep below its prefix a maze path is (0 outside the maze)."""
        parts = self.split(path)
        if parts is None:
            return 0
        prefix, _, logical = parts
        return logical[len(prefix) :].rstrip("/").count("/") + (1 if logical != prefix else 0)

    def _rng(self, logical: str) -> random.Random:
        return random.Random(self.keys.page_seed(self.decoy, logical))

    def entries(
        self, logical_dir: str, window: tuple[int, int], marker: str = ""
    ) -> list[maze_pages.Entry]:
        """What LOGICAL_DIR lists (names unique, directories first), dated inside WINDOW.

        File sizes are those of the files as served (they depend on the session's MARKER,
        whose tokens the config files show).
        """
        rng = self._rng(logical_dir)
        low, high = window
        count = rng.randint(*self.options.entries)
        dirs = rng.sample(DIRECTORY_NAMES, k=min(len(DIRECTORY_NAMES), max(1, count * 2 // 5)))
        files: dict[str, str] = {}
        for _ in range(count - len(dirs)):
            kind = rng.choice(self._kinds)
            files.setdefault(rng.choice(self._names[kind]), kind)
        out = []
        for name in sorted(dirs):
            span = _dir_window(name, low, high)
            if span is None:
                continue  # a year after the anchor: no such directory yet
            out.append(maze_pages.Entry(name, True, 4096, rng.randint(*span)))
        for name in sorted(files):
            mtime = rng.randint(low, high)
            size = self.size_of(logical_dir + name, files[name], marker, mtime)
            out.append(maze_pages.Entry(name, False, size, mtime))
        return out

    def root_window(self, prefix: str) -> tuple[int, int]:
        """The dates the prefix's own listing may use: up to a few weeks before the anchor."""
        newest = int(self.anchor) - self._rng("root:" + prefix).randint(_DAY, 40 * _DAY)
        return newest - 3 * _YEAR, newest

    def resolve(
        self, prefix: str, logical: str, marker: str = ""
    ) -> tuple[bool, str | None, int] | None:
        """(is_directory, file kind, mtime) of a logical path, or None if no parent lists it."""
        window = self.root_window(prefix)
        if logical == prefix:
            return True, None, window[1]
        parts = logical[len(prefix) :].split("/")
        is_dir = parts[-1] == ""
        names = parts[:-1] if is_dir else parts
        if len(names) > MAX_DEPTH or any(not n for n in names):
            return None
        current = prefix
        mtime = window[1]
        for i, name in enumerate(names):
            last = i == len(names) - 1
            listed = {e.name: e for e in self.entries(current, window, marker)}
            entry = listed.get(name)
            if entry is None or entry.is_dir != (is_dir or not last):
                return None
            mtime = entry.mtime
            if entry.is_dir:
                span = _dir_window(name, window[0], window[1]) or window
                window = (max(span[0], mtime - 3 * _YEAR), mtime)
            current += name + "/"
        if is_dir:
            return True, None, mtime
        return False, _kind_of(names[-1], self._names), mtime

    # -- providers -------------------------------------------------------------------------

    async def maze_page(self, request: DynamicRequest) -> DynamicResponse | None:
        """A maze page, a redirect to the marked URL, or None (the server's own 404)."""
        parts = self.split(request.path)
        if parts is None:
            return None
        prefix, marked, logical = parts
        found = self.resolve(prefix, logical, marked or "")
        if found is None:
            return None
        is_dir, kind, mtime = found
        if is_dir and request.method not in ("GET", "HEAD"):
            return None
        session = self.resolve_session(request, marked)
        if marked is None:
            location = prefix + self.keys.marker(session.id) + "/" + logical[len(prefix) :]
            return maze_pages.redirect(self.absolute(request, location), self.server)
        if not self.budget.available():
            self.budget.shed += 1
            return None
        started = time.perf_counter()
        if is_dir:
            window = self._window_of(prefix, logical, marked)
            entries = self.entries(logical, window, marked)
            page = maze_pages.listing(request.path, entries, self._as_seen(request))
        else:
            assert kind is not None
            body = await self._file(session, kind, logical, marked, mtime)
            ctype = content_type(self.server.flavor, logical)
            page = DynamicResponse(200, ctype, body, mtime=self._precise(logical, mtime))
        self.budget.spend(time.perf_counter() - started)
        return self._delayed(page, logical)

    def _window_of(self, prefix: str, logical: str, marker: str) -> tuple[int, int]:
        """The date window of a directory's children (walks from the prefix)."""
        window = self.root_window(prefix)
        current = prefix
        for name in logical[len(prefix) :].split("/")[:-1]:
            entry = {e.name: e for e in self.entries(current, window, marker)}[name]
            span = _dir_window(name, window[0], window[1]) or window
            window = (max(span[0], entry.mtime - 3 * _YEAR), entry.mtime)
            current += name + "/"
        return window

    def _precise(self, path: str, mtime: int) -> float:
        """A file's mtime with its sub-second part (httpd's ETag shows microseconds)."""
        return mtime + self._rng("usec:" + path).randint(0, 999_999) / 1_000_000

    def absolute(self, request: DynamicRequest, path: str) -> str:
        """PATH as an absolute URL, named as the mimicked server names itself.

        nginx: the Host's name (else the address the client reached) and the local port;
        httpd (UseCanonicalName Off): the Host's name and port (else ServerName and the local
        port); the others: the Host header as sent.
        """
        host_header = ""
        for name, value in request.headers:
            if name.lower() == "host":
                host_header = value.strip()
                break
        port = request.local_port or self.server.port
        name, colon, given = host_header.rpartition(":")
        if not colon or host_header.endswith("]"):
            name, given = host_header, ""
        if self.server.flavor == "nginx":
            host = name or request.local_host or self.server.host
        elif self.server.flavor == "apache":
            host = name or self.server.host
            port = int(given) if given.isdigit() else port
        else:
            suffix = "" if port == 80 else f":{port}"
            return f"http://{host_header or self.server.host + suffix}{path}"
        return f"http://{host}{path}" if port == 80 else f"http://{host}:{port}{path}"

    def _as_seen(self, request: DynamicRequest) -> maze_pages.Server:
        """The server as a page names it: httpd's signature takes the Host's name and port."""
        if self.server.flavor != "apache":
            return self.server
        host_header = next((v.strip() for n, v in request.headers if n.lower() == "host"), "")
        name, colon, given = host_header.rpartition(":")
        if not colon or host_header.endswith("]"):
            name, given = host_header, ""
        port = int(given) if given.isdigit() else request.local_port or self.server.port
        return replace(self.server, host=name or self.server.host, port=port)

    async def directory_redirect(self, request: DynamicRequest) -> DynamicResponse | None:
        """A maze prefix without its slash: 301 to the directory, as for any directory."""
        for prefix in self.options.prefixes:
            if request.path == prefix.rstrip("/"):
                location = self.absolute(request, prefix)
                if request.query:
                    location += "?" + request.query
                return maze_pages.moved(location, self.server)
        return None

    def _delayed(self, page: DynamicResponse, logical: str) -> DynamicResponse:
        low, high = self.options.tarpit
        if high <= 0:
            return page
        delay = self.tarpit.admit(self._rng("tarpit:" + logical).uniform(low, high))
        if not delay:
            return page
        return replace(page, delay_s=delay)

    def _config_values(self, kind: str, logical: str, marker: str) -> dict[str, str]:
        seed = self.keys.seed(self.decoy, marker, logical)
        return self.planter.values(
            seed, bait_files.TOKENS[kind], audience=self.identity.app_host, now=self.anchor
        )

    def size_of(self, logical: str, kind: str, marker: str, mtime: int) -> int:
        """The size of the file at LOGICAL as served (generated once, then remembered)."""
        key = f"{marker}:{logical}"
        size = self._sizes.get(key)
        if size is None:
            size = len(self._render(kind, logical, marker))
            self._sizes[key] = size
            while len(self._sizes) > max(self._cache_size, 1) * 32:
                self._sizes.popitem(last=False)
        return size

    def _render(self, kind: str, logical: str, marker: str) -> bytes:
        if kind in bait_files.TOKENS:
            values = self._config_values(kind, logical, marker)
            return bait_files.config_file(kind, self._rng(logical), values, self.identity)
        seed = self.keys.page_seed(self.decoy, logical)
        count = random.Random(seed).randint(*self.options.records)
        body = self._cache.get(logical)
        if body is None:
            body = self._data_file(kind, seed, count)
            self._remember(logical, body)
        return body

    async def _file(
        self, session: LiveSession, kind: str, logical: str, marker: str, mtime: int
    ) -> bytes:
        if kind in bait_files.TOKENS:
            values = self._config_values(kind, logical, marker)
            await self.planter.show(session, values, path=logical, shared=False)
            return bait_files.config_file(kind, self._rng(logical), values, self.identity)
        seed = self.keys.page_seed(self.decoy, logical)
        count = random.Random(seed).randint(*self.options.records)
        body = self._cache.get(logical)
        if body is None:
            body = await anyio.to_thread.run_sync(self._data_file, kind, seed, count)
            self._remember(logical, body)
        self.log_generated(session, logical, bait_files.DATA_FILES[kind][0], seed, count)
        return body

    def _data_file(self, kind: str, seed: int, count: int) -> bytes:
        records = synth_records(
            bait_files.DATA_FILES[kind][0], seed=seed, count=count, synthesizer=self.synthesizer
        )
        return bait_files.data_file(kind, records)

    def _remember(self, key: str, body: bytes) -> None:
        if self._cache_size <= 0:
            return
        self._cache[key] = body
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def bait_file(self, path: str) -> tuple[bytes, float, dict[str, str]]:
        """The bait file at PATH: its bytes, mtime and token values (the same for everyone)."""
        kind = _bait_kind(path)
        values = self.planter.values(
            self.keys.seed(self.decoy, "bait", path),
            bait_files.TOKENS[kind],
            audience=self.identity.app_host,
            now=self.anchor,
        )
        body = bait_files.config_file(kind, self._rng(path), values, self.identity)
        window = self.root_window("bait:" + path)
        return body, self._precise(path, self._rng("mtime:" + path).randint(*window)), values

    async def bait_page(self, request: DynamicRequest) -> DynamicResponse | None:
        """A config file with honeytokens at an exact bait path (/.env, /.git/config, …).

        The file is the same for every client (stable size, dates, ETag); its tokens are
        planted once for the decoy and each session that fetches it is linked to them.
        """
        if request.path not in self.options.bait_paths:
            return None
        body, mtime, values = self.bait_file(request.path)
        if request.method in ("GET", "HEAD"):
            session = self.resolve_session(request, None)
            await self.planter.show(session, values, path=request.path, shared=True)
        ctype = content_type(self.server.flavor, request.path)
        return DynamicResponse(200, ctype, body, mtime=mtime)

    async def robots(self, request: DynamicRequest) -> DynamicResponse | None:
        """robots.txt disallowing the maze prefixes (scrapers read it as a map)."""
        if request.path != "/robots.txt" or request.method not in ("GET", "HEAD"):
            return None
        return maze_pages.robots_txt(self.options.prefixes)


def _year_start(year: int) -> int:
    return calendar.timegm((year, 1, 1, 0, 0, 0))


def _dir_window(name: str, low: int, high: int) -> tuple[int, int] | None:
    """The dates a directory called NAME may have inside [low, high] (a year name: that year
    and the first weeks of the next), or None if it cannot exist yet."""
    if not (len(name) == 4 and name.isdigit()):
        return low, high
    year = int(name)
    first = max(low, _year_start(year) + 10 * _DAY)
    last = min(high, _year_start(year + 1) + 40 * _DAY)
    return (first, last) if first <= last else None


def _kind_of(name: str, names: Mapping[str, Sequence[str]]) -> str | None:
    for kind, served in names.items():
        if name in served:
            return kind
    return None


def _bait_kind(path: str) -> str:
    lowered = path.lower()
    if lowered.startswith("/.git/"):
        return "git_config"
    if "credentials" in lowered or lowered.startswith("/.aws/"):
        return "aws_credentials"
    if lowered.endswith((".yml", ".yaml")):
        return "database_yml"
    if ".properties" in lowered:
        return "properties"
    if ".php" in lowered:
        return "php_config"
    if lowered.endswith(".json"):
        return "appsettings"
    return "env"
