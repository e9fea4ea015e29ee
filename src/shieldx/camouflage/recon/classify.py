"""Classifying recon requests: scanner family and attack types. Pure and table-driven.

The tables live in signatures.py; this module compiles them once and applies them to one
request (``classify_request``) or to a session's behaviour (``behaviour_guess``). Results for
repeated User-Agents and targets are cached, so a flood of identical probes costs a dict lookup.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote, unquote_plus

from shieldx.camouflage.recon import signatures as sig

_UA_TABLE = tuple((re.compile(p), fam, tool, s) for p, fam, tool, s in sig.USER_AGENTS)
_PROBE_TABLE = tuple((re.compile(p), fam, tool) for p, fam, tool in sig.PROBES)
_TARGET_TABLE = tuple((kind, re.compile(p, re.DOTALL)) for kind, p in sig.TARGET_PATTERNS)
_BODY_TABLE = tuple(
    (kind, rx) for kind, rx in _TARGET_TABLE if kind not in (sig.SECRETS_PROBE, sig.ADMIN_PROBE)
)
_HEADER_TABLE = tuple((kind, re.compile(p)) for kind, p in sig.HEADER_PATTERNS)
_ORDER = {kind: i for i, kind in enumerate(sig.ATTACK_TYPES)}
_MAX_BODY_SCAN = 4096


@dataclass(frozen=True, slots=True)
class ScannerGuess:
    """A scanner family, the tool within it, and how strong the evidence is."""

    family: str
    tool: str
    strength: int


UNKNOWN_SCANNER = ScannerGuess(sig.UNKNOWN, "", 0)


@dataclass(frozen=True, slots=True)
class RequestClass:
    """What one request looks like: who sent it and what it tries."""

    scanner: ScannerGuess
    attack_types: tuple[str, ...]

    @property
    def primary_attack(self) -> str:
        """The most specific attack type, or "none"."""
        return self.attack_types[0] if self.attack_types else sig.NONE


@lru_cache(maxsize=4096)  # User-Agents are capped at 1 KiB when recorded
def classify_user_agent(user_agent: str) -> ScannerGuess:
    """The family a User-Agent claims (unknown for none or an unrecognised one)."""
    text = user_agent.strip().lower()
    if not text:
        return UNKNOWN_SCANNER
    for pattern, family, tool, strength in _UA_TABLE:
        if pattern.search(text):
            return ScannerGuess(family, tool, strength)
    return UNKNOWN_SCANNER


def _decoded(text: str) -> str:
    """Percent-decode twice (double encoding is a classic evasion), keeping the raw form too."""
    if "%" not in text and "+" not in text:
        return text
    once = unquote_plus(text)
    twice = unquote(once) if "%" in once else once
    return " ".join(dict.fromkeys((text, once, twice)))


def _attacks(table: Sequence[tuple[str, re.Pattern[str]]], haystack: str) -> set[str]:
    return {kind for kind, pattern in table if pattern.search(haystack)}


def _classify_target(
    method: str, path: str, query: str, version: str, raw_target: str
) -> tuple[ScannerGuess | None, frozenset[str]]:
    lowered_path = path.lower()
    lowered_query = _decoded(query.lower())
    haystack = lowered_path + ("?" + lowered_query if query else "")
    raw = raw_target.lower()
    if raw and raw != haystack:
        haystack += " " + raw
    line = (
        f"{method.lower()} {lowered_path}{'?' + query.lower() if query else ''} {version.lower()}"
    )
    probe: ScannerGuess | None = None
    for pattern, family, tool in _PROBE_TABLE:
        if pattern.search(line) or pattern.search(haystack):
            probe = ScannerGuess(family, tool, sig.STRENGTH_PROBE)
            break
    if lowered_path == "/" and not query and raw in ("", "/"):
        return probe, frozenset()
    return probe, frozenset(_attacks(_TARGET_TABLE, haystack))


# Repeated targets (a flood of the same probes) cost a dict lookup; long ones are not kept,
# so the cache stays small (at most 8192 entries of at most _MAX_CACHED_TARGET characters).
_MAX_CACHED_TARGET = 512
_classify_target_cached = lru_cache(maxsize=8192)(_classify_target)


def _header_attacks(headers: Sequence[tuple[str, str]]) -> set[str]:
    found: set[str] = set()
    for _, value in headers:
        if "${" in value or "() {" in value or "(){" in value:
            found |= _attacks(_HEADER_TABLE, value.lower())
    return found


def _body_attacks(body: bytes) -> set[str]:
    text = body[:_MAX_BODY_SCAN].decode("utf-8", "replace").lower()
    return _attacks(_BODY_TABLE, _decoded(text))


def _bare_service_probe(method: str, path: str, version: str, headers: Sequence[object]) -> bool:
    # nmap -sV's GetRequest and HTTPOptions probes: the request line and nothing else.
    return (
        not headers
        and version.upper() == "HTTP/1.0"
        and method in ("GET", "OPTIONS")
        and (path == "/")
    )


def header_value(headers: Sequence[tuple[str, str]], lower_name: str) -> str:
    """The first value of a header (case-insensitive name), or ""."""
    for name, value in headers:
        if name.lower() == lower_name:
            return value
    return ""


def classify_request(
    *,
    method: str,
    path: str,
    query: str,
    http_version: str,
    headers: Sequence[tuple[str, str]],
    body: bytes = b"",
    raw_target: str = "",
    user_agent: str | None = None,
) -> RequestClass:
    """Scanner family (User-Agent, then tool-specific probes) and attack types of one request."""
    ua = header_value(headers, "user-agent") if user_agent is None else user_agent
    scanner = classify_user_agent(ua)
    short = len(path) + len(query) + len(raw_target) <= _MAX_CACHED_TARGET
    classify_target = _classify_target_cached if short else _classify_target
    probe, target_attacks = classify_target(method, path, query, http_version, raw_target)
    if probe is None and _bare_service_probe(method, path, http_version, headers):
        probe = ScannerGuess(sig.NMAP, "nmap", sig.STRENGTH_PROBE)
    if probe is not None and probe.strength > scanner.strength:
        scanner = probe
    attacks = set(target_attacks)
    if headers:
        attacks |= _header_attacks(headers)
    if body:
        attacks |= _body_attacks(body)
    if not attacks:
        return RequestClass(scanner, ())
    return RequestClass(scanner, tuple(sorted(attacks, key=_ORDER.__getitem__)))


def behaviour_guess(*, distinct_paths: int, missing: int, requests: int) -> ScannerGuess | None:
    """Content discovery (gobuster, dirbuster, ffuf): many distinct paths, mostly missing."""
    if distinct_paths < sig.DISCOVERY_MIN_PATHS or requests == 0:
        return None
    if missing / requests < sig.DISCOVERY_MIN_MISSING_SHARE:
        return None
    return ScannerGuess(sig.DIRBUSTER, "content-discovery", sig.STRENGTH_BEHAVIOUR)


def stronger(current: ScannerGuess, candidate: ScannerGuess | None) -> ScannerGuess:
    """The better-supported of two guesses (the earlier one on a tie)."""
    if candidate is None or candidate.strength <= current.strength:
        return current
    return candidate
