"""Attacker sessions: requests grouped by source address, User-Agent and decoy, kept in memory.

A session lives while its attacker keeps sending requests; after ``idle_timeout`` without one,
or when the cap on live sessions is reached and it is the least recently active (LRU), it is
closed and handed to ``on_close`` (which writes it out and rewards the bandit). Memory is
bounded by ``max_live`` sessions times ``max_tracked_paths`` remembered paths each, so a flood
from many addresses costs evictions, not memory. Everything here runs on the event loop.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from shieldx.camouflage.recon.classify import (
    UNKNOWN_SCANNER,
    RequestClass,
    ScannerGuess,
    behaviour_guess,
    stronger,
)
from shieldx.camouflage.recon.signatures import DISCOVERY_MIN_PATHS

SessionKey = tuple[str, str, str]
_MAX_USER_AGENT = 512
_MAX_ALIASES = 16
#: Distinct fingerprint values kept per kind (ja4h, ja4) and session, with their counts.
MAX_FINGERPRINTS = 8
#: The first distinct paths a session asked for, in order (what attribution compares).
MAX_PATH_SAMPLE = 24
MAX_PATH_CHARS = 200
#: Gaps between the first requests of a session (its cadence).
MAX_GAPS = 32


def new_session_id() -> str:
    """A fresh session id: 16 hex digits (64 random bits)."""
    return secrets.token_hex(8)


def is_session_id(text: str) -> bool:
    """Whether TEXT has the shape of a session id."""
    return len(text) == 16 and all(c in "0123456789abcdef" for c in text)


@dataclass(frozen=True, slots=True)
class EngagementThreshold:
    """A session that reaches any of these is engaged (the bandit's reward is 1)."""

    min_requests: int = 5
    min_duration_s: float = 30.0
    min_maze_depth: int = 2


class LiveSession:
    """One attacker on one decoy, and what it has done so far."""

    __slots__ = (
        "attack_counts",
        "decoy",
        "distinct_paths",
        "fingerprints",
        "gaps",
        "honeytokens_taken",
        "honeytokens_used",
        "id",
        "keys",
        "last_seen",
        "linked_to",
        "maze_depth",
        "missing",
        "path_sample",
        "paths",
        "paths_saturated",
        "requests",
        "scanner",
        "served",
        "source_ip",
        "source_port",
        "started",
        "template",
        "tokens",
        "touched",
        "user_agent",
        "via",
    )

    def __init__(
        self,
        session_id: str,
        *,
        decoy: str,
        template: str,
        source_ip: str,
        source_port: int,
        user_agent: str,
        now: float,
        via: str,
    ) -> None:
        self.id = session_id
        self.decoy = decoy
        self.template = template
        self.source_ip = source_ip
        self.source_port = source_port
        self.user_agent = user_agent
        self.started = now
        self.last_seen = now
        # Arrival time of the latest request: what the idle timeout and the LRU order use.
        self.touched = now
        self.via = via
        self.requests = 0
        self.paths: set[int] = set()
        self.paths_saturated = False
        self.distinct_paths = 0
        self.missing = 0
        self.maze_depth = 0
        self.honeytokens_taken = 0
        self.honeytokens_used = 0
        self.scanner: ScannerGuess = UNKNOWN_SCANNER
        self.attack_counts: dict[str, int] = {}
        self.keys: list[SessionKey] = []
        self.linked_to: str | None = None
        # Honeytokens shown to this session, by kind, so a revisit sees the same ones.
        self.tokens: dict[str, tuple[str, str]] = {}
        # Generated files already logged for this session (generated_data_log), bounded.
        self.served: set[str] = set()
        # What attribution compares across sessions (all bounded, see the MAX_ constants).
        self.fingerprints: dict[str, dict[str, int]] = {}
        self.path_sample: list[str] = []
        self.gaps: list[float] = []

    @property
    def duration_s(self) -> float:
        """Seconds from the first to the latest request."""
        return max(0.0, self.last_seen - self.started)

    def engaged(self, threshold: EngagementThreshold) -> bool:
        """Whether the session passed the engagement threshold."""
        return (
            self.requests >= threshold.min_requests
            or (self.requests > 1 and self.duration_s >= threshold.min_duration_s)
            or self.maze_depth >= threshold.min_maze_depth
            or self.honeytokens_taken > 0
        )

    def summary(self) -> dict[str, Any]:
        """The session's figures as plain data (the API's and the closed event's shape)."""
        return {
            "session_id": self.id,
            "decoy": self.decoy,
            "template": self.template,
            "source_ip": self.source_ip,
            "source_port": self.source_port,
            "user_agent": self.user_agent,
            "via": self.via,
            "started": self.started,
            "last_seen": self.last_seen,
            "duration_s": round(self.duration_s, 3),
            "requests": self.requests,
            "distinct_paths": self.distinct_paths,
            "maze_depth": self.maze_depth,
            "honeytokens_taken": self.honeytokens_taken,
            "honeytokens_used": self.honeytokens_used,
            "scanner": self.scanner.family,
            "tool": self.scanner.tool,
            "attack_types": dict(self.attack_counts),
            "linked_to": self.linked_to,
            "fingerprints": {kind: dict(values) for kind, values in self.fingerprints.items()},
            "path_sample": list(self.path_sample),
            "cadence_s": self.cadence_s(),
        }

    def cadence_s(self) -> float | None:
        """The median gap between the session's first requests (None under two requests)."""
        if not self.gaps:
            return None
        ordered = sorted(self.gaps)
        middle = len(ordered) // 2
        if len(ordered) % 2:
            return round(ordered[middle], 4)
        return round((ordered[middle - 1] + ordered[middle]) / 2, 4)

    def note_fingerprint(self, kind: str, value: str) -> None:
        """Count one request's fingerprint of KIND (ja4h, ja4); at most MAX_FINGERPRINTS kept."""
        values = self.fingerprints.setdefault(kind, {})
        if value in values:
            values[value] += 1
        elif len(values) < MAX_FINGERPRINTS:
            values[value] = 1


OnClose = Callable[[LiveSession, str], None]
ClaimAssigned = Callable[[str, str], str | None]


class SessionTracker:
    """Live sessions in LRU order, with an idle timeout and a cap."""

    def __init__(
        self,
        *,
        idle_timeout_s: float,
        max_live: int,
        max_tracked_paths: int,
        on_close: OnClose,
        claim_assigned: ClaimAssigned | None = None,
    ) -> None:
        self.idle_timeout_s = idle_timeout_s
        self.max_live = max_live
        self.max_tracked_paths = max_tracked_paths
        self._on_close = on_close
        self._claim = claim_assigned
        self._live: OrderedDict[str, LiveSession] = OrderedDict()
        self._by_key: dict[SessionKey, str] = {}
        self.opened = 0
        self.evicted = 0
        self.closed = 0

    def __len__(self) -> int:
        return len(self._live)

    def __iter__(self) -> Iterator[LiveSession]:
        return iter(list(self._live.values()))

    def get(self, session_id: str) -> LiveSession | None:
        """A live session by id."""
        return self._live.get(session_id)

    def session_for(
        self,
        *,
        source_ip: str,
        user_agent: str,
        decoy: str,
        template: str,
        source_port: int,
        now: float,
        via: str = "decoy",
        session_id: str | None = None,
    ) -> LiveSession:
        """The live session of this attacker on this decoy, opened if there is none.

        SESSION_ID (a link marker's or an explicit one) wins over the key when it is live;
        the key then becomes one of its aliases, so later requests from the new address land
        in the same session.
        """
        key = (source_ip, user_agent[:_MAX_USER_AGENT], decoy)
        if session_id is not None:
            session = self._live.get(session_id)
            if session is not None:
                self._alias(session, key)
                return self._touch(session, now)
        found = self._by_key.get(key)
        if found is not None:
            session = self._live[found]
            return self._touch(session, now)
        assigned = self._claim(source_ip, decoy) if self._claim is not None else None
        new_id = assigned if assigned and assigned not in self._live else new_session_id()
        session = LiveSession(
            new_id,
            decoy=decoy,
            template=template,
            source_ip=source_ip,
            source_port=source_port,
            user_agent=key[1],
            now=now,
            via=via,
        )
        if session_id is not None and session_id != new_id:
            session.linked_to = session_id
        while len(self._live) >= self.max_live:
            _, oldest = next(iter(self._live.items()))
            self.evicted += 1
            self._close(oldest, "evicted")
        self._live[new_id] = session
        self._alias(session, key)
        self.opened += 1
        return session

    def _alias(self, session: LiveSession, key: SessionKey) -> None:
        if self._by_key.get(key) == session.id:
            return
        previous = self._by_key.get(key)
        if previous is not None and previous in self._live:
            self._live[previous].keys.remove(key)
        if len(session.keys) >= _MAX_ALIASES:
            self._by_key.pop(session.keys.pop(0), None)
        session.keys.append(key)
        self._by_key[key] = session.id

    def _touch(self, session: LiveSession, now: float) -> LiveSession:
        session.touched = now
        self._live.move_to_end(session.id)
        return session

    def record(
        self,
        session: LiveSession,
        *,
        path: str,
        status: int,
        maze_depth: int,
        request_class: RequestClass,
        at: float,
        fingerprints: Sequence[tuple[str, str]] = (),
    ) -> None:
        """Count one request of SESSION, made at epoch AT, with its (kind, value) fingerprints."""
        if session.requests and len(session.gaps) < MAX_GAPS:
            session.gaps.append(max(0.0, at - session.last_seen))
        session.requests += 1
        for kind, value in fingerprints:
            session.note_fingerprint(kind, value)
        if at > session.last_seen:
            session.last_seen = at
        elif at < session.started:
            session.started = at
        if not session.paths_saturated:
            marker = hash(path)
            if marker not in session.paths:
                session.paths.add(marker)
                session.distinct_paths += 1
                if len(session.path_sample) < MAX_PATH_SAMPLE:
                    session.path_sample.append(path[:MAX_PATH_CHARS])
                session.paths_saturated = len(session.paths) >= self.max_tracked_paths
        if status in (404, 410):
            session.missing += 1
        if maze_depth > session.maze_depth:
            session.maze_depth = maze_depth
        session.scanner = stronger(session.scanner, request_class.scanner)
        if session.distinct_paths >= DISCOVERY_MIN_PATHS:
            session.scanner = stronger(
                session.scanner,
                behaviour_guess(
                    distinct_paths=session.distinct_paths,
                    missing=session.missing,
                    requests=session.requests,
                ),
            )
        for kind in request_class.attack_types:
            session.attack_counts[kind] = session.attack_counts.get(kind, 0) + 1

    def sweep(self, now: float) -> int:
        """Close the sessions idle for longer than the timeout; return how many."""
        closed = 0
        horizon = now - self.idle_timeout_s
        while self._live:
            _, oldest = next(iter(self._live.items()))
            if oldest.touched > horizon:
                break
            self._close(oldest, "idle")
            closed += 1
        return closed

    def close(self, session_id: str, reason: str) -> bool:
        """Close one live session now."""
        session = self._live.get(session_id)
        if session is None:
            return False
        self._close(session, reason)
        return True

    def close_all(self, reason: str) -> int:
        """Close every live session (at shutdown)."""
        count = len(self._live)
        for session in list(self._live.values()):
            self._close(session, reason)
        return count

    def _close(self, session: LiveSession, reason: str) -> None:
        del self._live[session.id]
        for key in session.keys:
            if self._by_key.get(key) == session.id:
                del self._by_key[key]
        self.closed += 1
        self._on_close(session, reason)
