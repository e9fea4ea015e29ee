"""The request record rules are written against: its fields, limits and normalisation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, TypedDict

from shieldx.shadow.cel.runtime import parse_ip
from shieldx.shadow.cel.types import INT, INT64_MAX, STRING, CelEvalError, Variable, map_of

FIELDS: Final = (
    "method",
    "path",
    "query",
    "headers",
    "ip",
    "country",
    "asn",
    "user_agent",
    "body_size",
    "tenant",
)


class RequestRecord(TypedDict):
    """A normalised request: what a rule expression sees (headers have lower-case names)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    ip: str
    country: str
    asn: int
    user_agent: str
    body_size: int
    tenant: str


class Label(StrEnum):
    """Ground truth attached to a record by whoever recorded or generated it."""

    MALICIOUS = "malicious"
    BENIGN = "benign"


class AttackType(StrEnum):
    """The kind of attack a malicious record carries."""

    SQL_INJECTION = "sql_injection"
    XSS = "xss"
    PATH_TRAVERSAL = "path_traversal"
    COMMAND_INJECTION = "command_injection"
    SCANNER = "scanner"


@dataclass(frozen=True, slots=True)
class TrafficRecord:
    """A normalised request with its optional label, as fed to shadow evaluation and replay."""

    record: RequestRecord
    label: Label | None = None
    attack_type: AttackType | None = None


class RecordError(ValueError):
    """A request record that is malformed or larger than the limits."""


@dataclass(frozen=True, slots=True)
class RecordLimits:
    """Largest accepted field sizes; rules' static cost bounds are derived from them."""

    method: int = 16
    path: int = 4096
    query: int = 8192
    header_count: int = 64
    header_name: int = 256
    header_value: int = 4096
    user_agent: int = 4096
    tenant: int = 128


def request_variables(limits: RecordLimits = RecordLimits()) -> dict[str, Variable]:
    """The CEL declarations of the record's fields, with their size bounds."""
    return {
        "method": Variable(STRING, limits.method),
        "path": Variable(STRING, limits.path),
        "query": Variable(STRING, limits.query),
        "headers": Variable(
            map_of(STRING, STRING),
            limits.header_count,
            max(limits.header_name, limits.header_value),
        ),
        "ip": Variable(STRING, 45),
        "country": Variable(STRING, 2),
        "asn": Variable(INT),
        "user_agent": Variable(STRING, limits.user_agent),
        "body_size": Variable(INT),
        "tenant": Variable(STRING, limits.tenant),
    }


def normalize_record(
    raw: Mapping[str, object], limits: RecordLimits = RecordLimits()
) -> RequestRecord:
    """Validate and normalise a raw record; raise RecordError naming the field at fault.

    Missing fields get neutral defaults; a path with "?" is split into path and query;
    header names are lower-cased and repeated headers joined with ", "; user_agent and
    body_size default to the User-Agent and Content-Length headers. Keys that are not
    record fields (a label, a timestamp) are ignored.
    """
    headers = _headers(raw.get("headers"), limits)
    path = _text(raw, "path", limits.path, "/")
    query = _text(raw, "query", limits.query, "")
    if "?" in path and not query:
        path, query = path.split("?", 1)
    user_agent = _text(raw, "user_agent", limits.user_agent, headers.get("user-agent", ""))
    content_length = headers.get("content-length", "")
    default_size = min(_ascii_int(content_length) or 0, INT64_MAX)
    return RequestRecord(
        method=_text(raw, "method", limits.method, "GET"),
        path=path,
        query=query.removeprefix("?"),
        headers=headers,
        ip=_ip(raw.get("ip", "0.0.0.0")),  # noqa: S104 - "unknown client", never bound
        country=_country(raw.get("country", "")),
        asn=_count(raw, "asn", 0),
        user_agent=user_agent,
        body_size=min(_count(raw, "body_size", default_size), INT64_MAX),
        tenant=_text(raw, "tenant", limits.tenant, ""),
    )


def _text(raw: Mapping[str, object], name: str, limit: int, default: str) -> str:
    value = raw.get(name, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise RecordError(f"{name} must be a string (got {type(value).__name__})")
    if len(value) > limit:
        raise RecordError(f"{name} is {len(value)} characters long (limit {limit})")
    return value


def _count(raw: Mapping[str, object], name: str, default: int) -> int:
    value = raw.get(name, default)
    if isinstance(value, str) and name == "asn":
        number = _ascii_int(value.upper().removeprefix("AS"))
        value = value if number is None else number
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= INT64_MAX:
        raise RecordError(f"{name} must be a non-negative integer (got {value!r})")
    return value


def _ascii_int(text: str) -> int | None:
    # ASCII digits only: str.isdigit() also accepts "²" and "٣", which int() then refuses or
    # reads as another number; and int() refuses strings over 4,300 digits.
    if 0 < len(text) <= 20 and text.isascii() and text.isdigit():
        return int(text)
    return None


def _headers(value: object, limits: RecordLimits) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise RecordError("headers must be an object mapping names to strings")
    headers: dict[str, str] = {}
    for name, item in value.items():
        if not isinstance(name, str) or len(name) > limits.header_name:
            raise RecordError(
                f"header names must be strings of at most {limits.header_name} characters"
            )
        parts = item if isinstance(item, list | tuple) else [item]
        if not all(isinstance(part, str) for part in parts):
            raise RecordError(f"header {name!r} must be a string or a list of strings")
        key = name.lower()
        joined = ", ".join([headers[key], *parts] if key in headers else parts)
        if len(joined) > limits.header_value:
            raise RecordError(
                f"header {key!r} is {len(joined)} characters long (limit {limits.header_value})"
            )
        headers[key] = joined
    if len(headers) > limits.header_count:
        raise RecordError(f"{len(headers)} headers (limit {limits.header_count})")
    return headers


def _ip(value: object) -> str:
    if not isinstance(value, str):
        raise RecordError(f"ip must be a string (got {type(value).__name__})")
    try:
        parse_ip(value)  # the parser inCidr uses: whatever is accepted here, rules can test
    except CelEvalError:
        raise RecordError(f"ip must be an IPv4 or IPv6 address (got {value[:64]!r})") from None
    return value


def _country(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or not (value == "" or (len(value) == 2 and value.isalpha())):
        raise RecordError(f"country must be a two-letter ISO code or empty (got {value!r})")
    return value.upper()
