"""JA4H-style HTTP client fingerprints, computed from a request as the decoy read it off the wire.

Follows FoxIO's published JA4H definition (github.com/FoxIO-LLC/ja4, technical_details and the
reference python/ja4h.py), written here from that description::

    JA4H = a_b_c_d
    a = method[:2] lower-cased   ("ge", "po", "he"…)
      + version                  ("10", "11", "20")
      + "c" if the request has cookies else "n"
      + "r" if it has a Referer else "n"
      + number of headers, Cookie and Referer not counted, two digits, at most 99
      + first Accept-Language tag, "-" removed, lower-cased, first 4 characters, "0"-padded
        ("0000" when there is none)
    b = first 12 hex of SHA-256 of the header names in the order sent, original case,
        comma-separated (Cookie and Referer left out)
    c = first 12 hex of SHA-256 of the cookie names, sorted, comma-separated ("0"*12 if none)
    d = first 12 hex of SHA-256 of the "name=value" cookie pairs sorted by name ("0"*12 if none)

The decoys parse HTTP/1.x from raw bytes, so names keep their case and order exactly as sent
(an ASGI server would have lower-cased them and lost that part of the fingerprint). What cannot
be reproduced here: HTTP/2 and HTTP/3 (the decoys speak HTTP/1.x only, so ``20``/``30`` never
occur from a decoy), headers beyond the 64 a decoy keeps (the count is then at most 64, and the
hash covers the first 64), and header values beyond 1 KiB (a longer Cookie is cut before it is
hashed into ``d``). JA4H is licensed by FoxIO under the FoxIO License 1.1.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from operator import itemgetter

NO_HASH = "0" * 12
# Clients repeat themselves: the hash of a header-name list and the version part are cached
# (bounded), so a flood of one tool's requests costs a tuple and a dict lookup for them.
_MAX_CACHED = 4096
_names_cache: dict[tuple[str, ...], str] = {}
_version_cache: dict[str, str] = {}
_by_name = itemgetter(0)  # a stable sort by cookie name, as FoxIO's reference sorts


def _sha12(values: Sequence[str]) -> str:
    return hashlib.sha256(",".join(values).encode("utf-8", "surrogateescape")).hexdigest()[:12]


def _names_hash(names: tuple[str, ...]) -> str:
    found = _names_cache.get(names)
    if found is None:
        if len(_names_cache) >= _MAX_CACHED:
            _names_cache.clear()
        found = _names_cache[names] = _sha12(names)
    return found


def _version(http_version: str) -> str:
    found = _version_cache.get(http_version)
    if found is None:
        digits = "".join(c for c in http_version.partition("/")[2] if c.isdigit())
        if len(_version_cache) >= _MAX_CACHED:
            _version_cache.clear()
        found = _version_cache[http_version] = (digits + "00")[:2]
    return found


def _language(value: str) -> str:
    tag = value.replace("-", "").replace(";", ",").lower().split(",")[0].strip()[:4]
    return tag + "0" * (4 - len(tag))


def _split_cookies(values: Sequence[str]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for value in values:
        for part in value.split(";"):
            pair = part.strip()
            if pair:
                pairs.append((pair.split("=", 1)[0].strip(), pair))
    return pairs


def cookie_pairs(headers: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """(name, "name=value") for every cookie of every Cookie header, in the order sent."""
    return _split_cookies([v for n, v in headers if n.lower() == "cookie"])


def ja4h(method: str, http_version: str, headers: Sequence[tuple[str, str]]) -> str:
    """The JA4H fingerprint of one request (HEADERS as sent: order and case kept)."""
    names: list[str] = []
    cookie_values: list[str] = []
    referer = False
    language: str | None = None
    for name, value in headers:
        lower = name.lower()
        if lower.startswith("cookie"):
            if lower == "cookie":
                cookie_values.append(value)
            continue
        if lower == "referer":
            referer = True
            continue
        if language is None and lower == "accept-language":
            language = value
        names.append(name)
    cookies = sorted(_split_cookies(cookie_values), key=_by_name) if cookie_values else []
    prefix = (
        (method.lower()[:2] + "00")[:2]
        + _version(http_version)
        + ("c" if cookies else "n")
        + ("r" if referer else "n")
        + f"{min(len(names), 99):02d}"
        + (_language(language) if language is not None else "0000")
    )
    names_hash = _names_hash(tuple(names))
    if not cookies:
        return f"{prefix}_{names_hash}_{NO_HASH}_{NO_HASH}"
    return (
        f"{prefix}_{names_hash}_{_sha12([n for n, _ in cookies])}_{_sha12([p for _, p in cookies])}"
    )
