"""The maze: an endless deterministic site under a decoy's path prefixes, and its bait files.

Every page is a function of HMAC(decoy secret, decoy, path): a directory lists subdirectories
and files (names, sizes, dates from the page's seeded RNG), a file is a config with the
visitor's own honeytokens or an export of synthetic records. Only what a parent lists exists
(anything else gets the server's own 404), so the site is endless but consistent.

Links carry an opaque marker (markers.py) as the first segment after the prefix; a request
without one is redirected to the marked URL, and afterwards relative links keep it. A scraper
that changes address keeps presenting its marker, which ties its requests to its session.
Page generation is held to a CPU budget; an optional tarpit delays answers (bounded).
"""

from __future__ import annotations

import random
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import anyio.to_thread

from shieldx.camouflage.decoys import DynamicContentProvider, DynamicRequest, DynamicResponse
from shieldx.camouflage.honeytokens.service import HoneytokenPlanter
from shieldx.camouflage.maze import bait_files
from shieldx.camouflage.maze import pages as maze_pages
from shieldx.camouflage.maze.catalog import (
    DIRECTORY_NAMES,
    FILE_KINDS,
    content_type,
    kinds_for,
    served_names,
)
from shieldx.camouflage.maze.markers import MazeKeys
from shieldx.camouflage.sessions.tracker import LiveSession
from shieldx.camouflage.synth import Synthesizer, synth_records

MAX_DEPTH = 64
_EPOCH_2019 = 1546300800
_EPOCH_2024 = 1735689599

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

    def routes(self) -> tuple[tuple[str, DynamicContentProvider], ...]:
        """(prefix, provider) pairs for the decoy's dynamic_routes."""
        routes: list[tuple[str, DynamicContentProvider]] = [
            (prefix, self.maze_page) for prefix in self.options.prefixes
        ]
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

    def entries(self, logical_dir: str) -> list[maze_pages.Entry]:
        """What the directory LOGICAL_DIR lists (names unique, directories first)."""
        rng = self._rng(logical_dir)
        count = rng.randint(*self.options.entries)
        dirs = rng.sample(DIRECTORY_NAMES, k=min(len(DIRECTORY_NAMES), max(1, count * 2 // 5)))
        files: dict[str, str] = {}
        for _ in range(count - len(dirs)):
            kind = rng.choice(self._kinds)
            files.setdefault(rng.choice(self._names[kind]), kind)
        out = [
            maze_pages.Entry(name, True, 4096, rng.randint(_EPOCH_2019, _EPOCH_2024))
            for name in sorted(dirs)
        ]
        for name in sorted(files):
            low, high = FILE_KINDS[files[name]].size_range
            out.append(
                maze_pages.Entry(
                    name, False, rng.randint(low, high), rng.randint(_EPOCH_2019, _EPOCH_2024)
                )
            )
        return out

    def resolve(self, prefix: str, logical: str) -> tuple[bool, str | None] | None:
        """(is_directory, file kind) of a logical path, or None if no parent lists it."""
        if logical == prefix:
            return True, None
        parts = logical[len(prefix) :].split("/")
        is_dir = parts[-1] == ""
        names = parts[:-1] if is_dir else parts
        if len(names) > MAX_DEPTH or any(not n for n in names):
            return None
        current = prefix
        for i, name in enumerate(names):
            last = i == len(names) - 1
            listed = {e.name: e for e in self.entries(current)}
            entry = listed.get(name)
            if entry is None or entry.is_dir != (is_dir or not last):
                return None
            current += name + "/"
        if is_dir:
            return True, None
        return False, _kind_of(names[-1], self._names)

    # -- providers -------------------------------------------------------------------------

    async def maze_page(self, request: DynamicRequest) -> DynamicResponse | None:
        """A maze page, a redirect to the marked URL, or None (the server's own 404)."""
        if request.method not in ("GET", "HEAD"):
            return None
        parts = self.split(request.path)
        if parts is None:
            return None
        prefix, marked, logical = parts
        found = self.resolve(prefix, logical)
        if found is None:
            return None
        session = self.resolve_session(request, marked)
        if marked is None:
            location = prefix + self.keys.marker(session.id) + "/" + logical[len(prefix) :]
            return maze_pages.redirect(location, self.server)
        if not self.budget.available():
            self.budget.shed += 1
            return None
        started = time.perf_counter()
        is_dir, kind = found
        if is_dir:
            page = maze_pages.listing(request.path, self.entries(logical), self.server)
        else:
            assert kind is not None
            body = await self._file(session, kind, logical)
            page = DynamicResponse(200, content_type(self.server.flavor, logical), body)
        self.budget.spend(time.perf_counter() - started)
        return self._delayed(page, logical)

    def _delayed(self, page: DynamicResponse, logical: str) -> DynamicResponse:
        low, high = self.options.tarpit
        if high <= 0:
            return page
        delay = self.tarpit.admit(self._rng("tarpit:" + logical).uniform(low, high))
        if not delay:
            return page
        return DynamicResponse(page.status, page.content_type, page.body, delay, page.extra_headers)

    async def _file(self, session: LiveSession, kind: str, logical: str) -> bytes:
        if kind in bait_files.TOKENS:
            tokens = await self.planter.tokens_for(session, bait_files.TOKENS[kind], path=logical)
            return bait_files.config_file(kind, self._rng(logical), tokens)
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

    async def bait_page(self, request: DynamicRequest) -> DynamicResponse | None:
        """A config file full of the visitor's own honeytokens (/.env, /.git/config, …)."""
        if request.method not in ("GET", "HEAD"):
            return None
        session = self.resolve_session(request, None)
        kind = _bait_kind(request.path)
        tokens = await self.planter.tokens_for(session, bait_files.TOKENS[kind], path=request.path)
        body = bait_files.config_file(kind, self._rng(request.path), tokens)
        return DynamicResponse(200, content_type(self.server.flavor, request.path), body)

    async def robots(self, request: DynamicRequest) -> DynamicResponse | None:
        """robots.txt disallowing the maze prefixes (scrapers read it as a map)."""
        if request.path != "/robots.txt" or request.method not in ("GET", "HEAD"):
            return None
        return maze_pages.robots_txt(self.options.prefixes)


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
