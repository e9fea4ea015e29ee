"""Attacker attribution: sessions grouped into actors, with a score, evidence and ATT&CK techniques.

Pure: the caller hands in what was stored about sessions and honeytokens; nothing here reads a
clock, a database or the network. The decision rules:

* **Strong links merge sessions outright.** The same source address (``shared_address``); a
  maze link marker that brought a session back from another address (``link_marker``); a
  honeytoken shown to one session and used from another address (``honeytoken_reuse``: every
  session from the address that used it joins the session that saw it).
* **Fingerprints merge only together, and only close in time.** Two sessions from different
  addresses that were active within ``window_s`` of each other score the fingerprints they share:
  JA4H (0.35), JA4 (0.35), User-Agent (0.15) — each scaled by its rarity, ``min(1, 2 / A)`` where
  A is how many addresses show that value, so a stock scanner run by strangers is not one actor —
  plus the overlap of their first paths (0.3 x Jaccard, from 3 paths up) and a similar cadence
  (0.1, median gaps within 25 %). At ``merge_at`` (0.6) or more they merge; below, they stay apart.
* **Score.** An actor's attribution score is the noisy-OR of its evidence weights,
  ``1 - prod(1 - w)``: independent clues each close part of the remaining doubt. Besides the
  links above, a single session's own clues count: a named tool (0.2), a JA4H or JA4 seen (0.1),
  a honeytoken used from the address that took it (0.5).
* **Identity.** An actor's id is ``act_`` plus the id of its earliest session, so it is stable
  while its sessions are; when two actors merge, the earlier one's id survives.

The ATT&CK mapping is a table of observed behaviour to technique ids, in attack.py.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import combinations
from typing import Any, Final

from shieldx.camouflage.actors.attack import Technique, techniques_of

# Evidence kinds and their weights.
SHARED_ADDRESS: Final = "shared_address"
LINK_MARKER: Final = "link_marker"
HONEYTOKEN_REUSE: Final = "honeytoken_reuse"
HONEYTOKEN_USE: Final = "honeytoken_use"
JA4H: Final = "ja4h"
JA4: Final = "ja4"
USER_AGENT: Final = "user_agent"
PATH_SEQUENCE: Final = "path_sequence"
CADENCE: Final = "cadence"
TOOL: Final = "tool"
FINGERPRINT: Final = "fingerprint"

WEIGHTS: Final[Mapping[str, float]] = {
    SHARED_ADDRESS: 0.3,
    LINK_MARKER: 0.8,
    HONEYTOKEN_REUSE: 0.9,
    HONEYTOKEN_USE: 0.5,
    JA4H: 0.35,
    JA4: 0.35,
    USER_AGENT: 0.15,
    PATH_SEQUENCE: 0.3,
    CADENCE: 0.1,
    TOOL: 0.2,
    FINGERPRINT: 0.1,
}
STRONG_LINKS: Final = (SHARED_ADDRESS, LINK_MARKER, HONEYTOKEN_REUSE)
MIN_PATHS_COMPARED: Final = 3
MIN_PATH_JACCARD: Final = 0.5
CADENCE_TOLERANCE: Final = 0.25
#: A fingerprint value shown by more sessions than this is not used to find candidate pairs.
MAX_BLOCK: Final = 64
#: Evidence items kept per actor (the strongest first).
MAX_EVIDENCE: Final = 64
_EMPTY: Final[frozenset[str]] = frozenset()


@dataclass(frozen=True)
class SessionFacts:
    """What attribution knows of one session (live or stored)."""

    id: str
    source_ip: str
    decoy: str
    user_agent: str
    started: float
    last_seen: float
    requests: int = 0
    scanner: str = "unknown"
    tool: str = ""
    maze_depth: int = 0
    honeytokens_taken: int = 0
    honeytokens_used: int = 0
    attack_types: Mapping[str, int] = field(default_factory=dict)
    fingerprints: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    path_sample: tuple[str, ...] = ()
    cadence_s: float | None = None
    linked_to: str | None = None

    @cached_property
    def _value_sets(self) -> dict[str, frozenset[str]]:
        return {kind: frozenset(values) for kind, values in self.fingerprints.items()}

    @cached_property
    def path_set(self) -> frozenset[str]:
        """The distinct first paths (compared between sessions)."""
        return frozenset(self.path_sample)

    def values(self, kind: str) -> frozenset[str]:
        """The fingerprint values of KIND (ja4h, ja4) the session showed."""
        return self._value_sets.get(kind, _EMPTY)


@dataclass(frozen=True)
class TokenLink:
    """A honeytoken shown to a session."""

    token_id: str
    session_id: str
    kind: str
    path: str
    planted_at: float


@dataclass(frozen=True)
class TokenUse:
    """A honeytoken presented somewhere on the platform, from an address."""

    token_id: str
    session_id: str | None
    kind: str
    source: str
    location: str
    used_at: float


@dataclass(frozen=True)
class Evidence:
    """One typed clue behind an actor, with its weight."""

    kind: str
    weight: float
    summary: str
    sessions: tuple[str, ...]
    value: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Plain data for the API, the CLI and STIX."""
        return {
            "type": self.kind,
            "weight": round(self.weight, 3),
            "summary": self.summary,
            "sessions": list(self.sessions),
            "value": self.value,
        }


@dataclass(frozen=True)
class Actor:
    """Sessions believed to be one attacker, with the evidence and the techniques seen."""

    id: str
    sessions: tuple[SessionFacts, ...]
    evidence: tuple[Evidence, ...]
    techniques: tuple[Technique, ...]
    tokens_used_from: tuple[str, ...]

    @property
    def score(self) -> float:
        """Noisy-OR of the evidence weights, in [0, 1]."""
        return noisy_or(e.weight for e in self.evidence)

    @property
    def addresses(self) -> tuple[str, ...]:
        """Every address the actor was seen from (sessions, then honeytoken uses)."""
        seen = dict.fromkeys(s.source_ip for s in self.sessions)
        seen.update(dict.fromkeys(self.tokens_used_from))
        return tuple(seen)

    @property
    def first_seen(self) -> float:
        """Start of the earliest session."""
        return min(s.started for s in self.sessions)

    @property
    def last_seen(self) -> float:
        """Latest request of any session."""
        return max(s.last_seen for s in self.sessions)

    def fingerprint_values(self, kind: str) -> list[str]:
        """Every fingerprint value of KIND across the sessions, most used first."""
        counts: dict[str, int] = defaultdict(int)
        for s in self.sessions:
            for value, count in s.fingerprints.get(kind, {}).items():
                counts[value] += count
        return sorted(counts, key=lambda v: (-counts[v], v))

    def tools(self) -> list[str]:
        """The tools identified in the sessions."""
        return sorted({s.tool for s in self.sessions if s.tool})


def noisy_or(weights: Iterable[float]) -> float:
    """1 - prod(1 - w), rounded to 3 places."""
    doubt = 1.0
    for w in weights:
        doubt *= 1.0 - min(max(w, 0.0), 1.0)
    return round(1.0 - doubt, 3)


def rarity(addresses: int) -> float:
    """How much a value shared by ADDRESSES distinct addresses says: min(1, 2 / addresses)."""
    return min(1.0, 2.0 / addresses) if addresses > 0 else 0.0


def jaccard(a: Iterable[str], b: Iterable[str]) -> float:
    """Shared paths over all paths of two path samples (0 for empty ones)."""
    sa, sb = frozenset(a), frozenset(b)
    union = len(sa | sb)
    return len(sa & sb) / union if union else 0.0


def close_in_time(a: SessionFacts, b: SessionFacts, window_s: float) -> bool:
    """Whether the sessions were active within WINDOW_S seconds of each other."""
    gap = max(a.started, b.started) - min(a.last_seen, b.last_seen)
    return gap <= window_s


class _Groups:
    """Union-find over session ids (the earliest session is each group's root)."""

    def __init__(self, sessions: Mapping[str, SessionFacts]) -> None:
        self.parent = {sid: sid for sid in sessions}
        self.order = {sid: (s.started, sid) for sid, s in sessions.items()}

    def find(self, sid: str) -> str:
        root = sid
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[sid] != root:
            self.parent[sid], sid = root, self.parent[sid]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if self.order[rb] < self.order[ra]:
            ra, rb = rb, ra
        self.parent[rb] = ra


def _pair_clues(
    a: SessionFacts, b: SessionFacts, spread: Mapping[tuple[str, str], int]
) -> list[Evidence]:
    """The fingerprint clues two sessions from different addresses share."""
    clues: list[Evidence] = []
    pair = (a.id, b.id)
    for kind in (JA4H, JA4):
        shared = a.values(kind) & b.values(kind)
        if shared:
            value = max(shared, key=lambda v: (rarity(spread[(kind, v)]), v))
            weight = WEIGHTS[kind] * rarity(spread[(kind, value)])
            clues.append(Evidence(kind, weight, f"both sent {kind.upper()} {value}", pair, value))
    if a.user_agent and a.user_agent == b.user_agent:
        weight = WEIGHTS[USER_AGENT] * rarity(spread[(USER_AGENT, a.user_agent)])
        summary = f"same User-Agent {a.user_agent[:120]!r}"
        clues.append(Evidence(USER_AGENT, weight, summary, pair, a.user_agent[:512]))
    if min(len(a.path_sample), len(b.path_sample)) >= MIN_PATHS_COMPARED:
        overlap = jaccard(a.path_set, b.path_set)
        if overlap >= MIN_PATH_JACCARD:
            summary = f"{overlap:.0%} of their first paths are the same"
            clues.append(Evidence(PATH_SEQUENCE, WEIGHTS[PATH_SEQUENCE] * overlap, summary, pair))
    if a.cadence_s and b.cadence_s:
        ratio = abs(a.cadence_s - b.cadence_s) / max(a.cadence_s, b.cadence_s)
        if ratio <= CADENCE_TOLERANCE:
            summary = f"same cadence (median gaps {a.cadence_s:g} s and {b.cadence_s:g} s)"
            clues.append(Evidence(CADENCE, WEIGHTS[CADENCE], summary, pair))
    return clues


def _spread(sessions: Iterable[SessionFacts]) -> dict[tuple[str, str], int]:
    """How many distinct addresses showed each (kind, value)."""
    addresses: dict[tuple[str, str], set[str]] = defaultdict(set)
    for s in sessions:
        for kind in (JA4H, JA4):
            for value in s.values(kind):
                addresses[(kind, value)].add(s.source_ip)
        if s.user_agent:
            addresses[(USER_AGENT, s.user_agent)].add(s.source_ip)
    return {key: len(found) for key, found in addresses.items()}


def _candidate_pairs(sessions: Sequence[SessionFacts]) -> set[tuple[str, str]]:
    """Pairs from different addresses sharing a fingerprint value, a User-Agent or first paths."""
    blocks: dict[tuple[str, str], list[SessionFacts]] = defaultdict(list)
    for s in sessions:
        for kind in (JA4H, JA4):
            for value in s.values(kind):
                blocks[(kind, value)].append(s)
        if s.user_agent:
            blocks[(USER_AGENT, s.user_agent)].append(s)
        if len(s.path_sample) >= MIN_PATHS_COMPARED:
            blocks[(PATH_SEQUENCE, "\n".join(sorted(s.path_sample)[:MIN_PATHS_COMPARED]))].append(s)
    pairs: set[tuple[str, str]] = set()
    for members in blocks.values():
        if len(members) > MAX_BLOCK:
            continue
        for a, b in combinations(members, 2):
            if a.source_ip != b.source_ip:
                pairs.add((a.id, b.id) if a.id < b.id else (b.id, a.id))
    return pairs


def attribute(
    sessions: Sequence[SessionFacts],
    links: Sequence[TokenLink] = (),
    uses: Sequence[TokenUse] = (),
    *,
    window_s: float = 3600.0,
    merge_at: float = 0.6,
) -> list[Actor]:
    """Group SESSIONS into actors (highest score first) with their evidence and techniques."""
    by_id = {s.id: s for s in sessions}
    groups = _Groups(by_id)
    evidence: list[Evidence] = []

    by_address: dict[str, list[SessionFacts]] = defaultdict(list)
    for s in sorted(sessions, key=lambda s: (s.started, s.id)):
        by_address[s.source_ip].append(s)
    for address, same_address in by_address.items():
        if len(same_address) > 1:
            ids = tuple(m.id for m in same_address)
            for other in ids[1:]:
                groups.union(ids[0], other)
            summary = f"{len(ids)} sessions from {address}"
            evidence.append(
                Evidence(SHARED_ADDRESS, WEIGHTS[SHARED_ADDRESS], summary, ids, address)
            )

    for s in sessions:
        if s.linked_to and s.linked_to in by_id:
            groups.union(s.linked_to, s.id)
            summary = f"a maze link marker of session {s.linked_to} came back from {s.source_ip}"
            evidence.append(
                Evidence(LINK_MARKER, WEIGHTS[LINK_MARKER], summary, (s.linked_to, s.id))
            )

    token_sources: dict[str, list[str]] = defaultdict(list)
    link_of = {link.token_id: link for link in links}
    for use in uses:
        owner = by_id.get(use.session_id or "")
        if owner is None:
            continue
        link = link_of.get(use.token_id)
        where = f" at {link.path}" if link is not None else ""
        if use.source == owner.source_ip:
            summary = f"{use.kind} honeytoken shown{where} was used from the same address ({use.location})"
            evidence.append(
                Evidence(
                    HONEYTOKEN_USE, WEIGHTS[HONEYTOKEN_USE], summary, (owner.id,), use.token_id
                )
            )
            continue
        users = by_address.get(use.source, [])
        for user in users:
            groups.union(owner.id, user.id)
        token_sources[owner.id].append(use.source)
        summary = (
            f"{use.kind} honeytoken shown to session {owner.id}{where} was used from "
            f"{use.source} ({use.location})"
        )
        ids = (owner.id, *(u.id for u in users))
        evidence.append(
            Evidence(HONEYTOKEN_REUSE, WEIGHTS[HONEYTOKEN_REUSE], summary, ids, use.token_id)
        )

    spread = _spread(sessions)
    for a_id, b_id in sorted(_candidate_pairs(sessions)):
        a, b = by_id[a_id], by_id[b_id]
        same = groups.find(a_id) == groups.find(b_id)
        close = close_in_time(a, b, window_s)
        if not (close or same):
            continue  # far apart and not linked otherwise: nothing to merge or corroborate
        clues = _pair_clues(a, b, spread)
        if close and sum(c.weight for c in clues) >= merge_at:
            groups.union(a_id, b_id)
            evidence.extend(clues)
        elif same:
            evidence.extend(clues)  # corroborates a link already made

    members: dict[str, list[SessionFacts]] = defaultdict(list)
    for s in sessions:
        members[groups.find(s.id)].append(s)
    found: dict[str, list[Evidence]] = defaultdict(list)
    for item in evidence:
        found[groups.find(item.sessions[0])].append(item)
    actors = []
    for root, group in members.items():
        group.sort(key=lambda s: (s.started, s.id))
        # The same clue twice (a token used again, a pair seen from both sides) counts once.
        items = list(dict.fromkeys(found[root] + _own_clues(group)))
        items.sort(key=lambda e: (-e.weight, e.kind, e.sessions))
        actors.append(
            Actor(
                id=f"act_{root}",
                sessions=tuple(group),
                evidence=tuple(items[:MAX_EVIDENCE]),
                techniques=techniques_of(group, {u.session_id for u in uses if u.session_id}),
                tokens_used_from=tuple(
                    dict.fromkeys(src for s in group for src in token_sources.get(s.id, []))
                ),
            )
        )
    actors.sort(key=lambda a: (-a.score, -a.last_seen, a.id))
    return actors


def _own_clues(group: Sequence[SessionFacts]) -> list[Evidence]:
    """What identifies the actor beyond the links: its tools and fingerprints."""
    clues: list[Evidence] = []
    tools: dict[str, list[str]] = defaultdict(list)
    for s in group:
        if s.tool:
            tools[s.tool].append(s.id)
    for tool, ids in sorted(tools.items()):
        clues.append(Evidence(TOOL, WEIGHTS[TOOL], f"tool identified: {tool}", tuple(ids), tool))
    for kind in (JA4H, JA4):
        seen: dict[str, list[str]] = defaultdict(list)
        for s in group:
            for value in s.values(kind):
                seen[value].append(s.id)
        if seen:
            value = max(seen, key=lambda v: (len(seen[v]), v))
            summary = f"{kind.upper()} {value} seen ({len(seen)} distinct)"
            clues.append(
                Evidence(FINGERPRINT, WEIGHTS[FINGERPRINT], summary, tuple(seen[value]), value)
            )
    return clues
