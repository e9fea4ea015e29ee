"""Security events in SIEM formats: the common fields, CEF, ECS JSON, RFC 5424 and Splunk HEC.

Pure: no I/O, no clock. ``normalize`` turns a bus event (a topic and a flat payload) into a
``SecurityEvent`` with the same common fields whatever its origin; the formatters write it as

- CEF (ArcSight Common Event Format, revision 25): ``CEF:0|ShieldX|ShieldX|version|id|name|
  severity|extension``, header fields escaping ``\\`` and ``|``, extension values escaping
  ``\\``, ``=`` and line breaks (``\\n``, ``\\r``);
- ECS JSON (Elastic Common Schema 9.4): ``@timestamp``, ``event.*`` with allowed values only,
  ``source.ip``, ``user.id``, ``organization.id``, ``observer.*``, ``host.hostname``, and our
  own fields under ``shieldx.*`` (ECS reserves no ``shieldx`` field set);
- RFC 5424 syslog messages (``<PRI>1 TIMESTAMP HOST APP PROCID MSGID - MSG``), with RFC 6587
  octet counting for stream transports (TCP, and TLS as RFC 5425 says);
- Splunk HTTP Event Collector records (``{"time", "host", "source", "sourcetype", "event"}``).

No secret leaves: payload fields whose names say they hold one (token, secret, password,
authorization, api_key, …) and request contents (headers, bodies, query strings) are dropped,
and any value shaped like a ShieldX API key is masked.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

ECS_VERSION: Final = "9.4.0"
VENDOR: Final = "ShieldX"
PRODUCT: Final = "ShieldX"
SEVERITIES: Final = ("info", "low", "medium", "high", "critical")
CEF_SEVERITY: Final = {"info": 1, "low": 3, "medium": 5, "high": 8, "critical": 10}
# RFC 5424 severities: 2 critical, 3 error, 4 warning, 5 notice, 6 informational.
SYSLOG_SEVERITY: Final = {"info": 6, "low": 5, "medium": 4, "high": 3, "critical": 2}
MAX_TEXT: Final = 1024


@dataclass(frozen=True)
class Kind:
    """How one event id is described: its name, default severity and ECS categorisation."""

    name: str
    severity: str
    ecs_kind: str
    category: tuple[str, ...]
    type: tuple[str, ...]
    outcome: str = "unknown"
    # Payload fields named in the message when the payload carries no text of its own.
    detail: tuple[str, ...] = ()


# Every event id the platform and the services publish on the bus, and what it means.
KINDS: Final[dict[str, Kind]] = {
    "honeytoken.used": Kind(
        "Honeytoken used",
        "critical",
        "alert",
        ("intrusion_detection",),
        ("info",),
        detail=("kind", "location", "source", "token_id"),
    ),
    "auth.failed": Kind(
        "API key refused", "low", "event", ("authentication",), ("start",), "failure"
    ),
    "camouflage.request": Kind(
        "Decoy contacted",
        "low",
        "event",
        ("intrusion_detection",),
        ("info",),
        detail=("decoy", "method", "path", "source_ip", "scanner"),
    ),
    "camouflage.session.closed": Kind(
        "Attacker session closed",
        "low",
        "event",
        ("session",),
        ("end",),
        detail=("decoy", "session_id", "source_ip"),
    ),
    "compliance.alert.raised": Kind(
        "Compliance alert", "high", "alert", ("configuration",), ("info",)
    ),
    "compliance.alert.escalated": Kind(
        "Compliance alert escalated", "high", "alert", ("configuration",), ("info",)
    ),
    "chaos.safety_violation": Kind("Chaos safety violation", "high", "alert", ("host",), ("info",)),
    "credits.audit.chain_broken": Kind(
        "Ledger audit chain broken",
        "critical",
        "alert",
        ("database",),
        ("error",),
        "failure",
        detail=("first_bad_position",),
    ),
}
GENERIC: Final = Kind("Security event", "medium", "event", ("host",), ("info",))

# Field names that hold request contents: never exported (attacker-sent credentials live there).
_CONTENT_FIELDS: Final = frozenset({"headers", "body", "query", "cookies", "payload"})
_SECRET_NAME = re.compile(
    r"(secret|password|passwd|token$|^token|authorization|api_?key$|credential|private)", re.I
)
_API_KEY = re.compile(r"shx_[A-Za-z0-9]+_[A-Za-z0-9_-]{8,}")
_TIME_FIELDS: Final = ("time", "at", "used_at", "raised_at", "created_at")
_SOURCE_FIELDS: Final = ("source_ip", "source", "client")


@dataclass(frozen=True)
class SecurityEvent:
    """One event with the fields every SIEM format needs, and the rest as flat extras."""

    id: str
    kind: Kind
    time: datetime
    severity: str
    message: str
    outcome: str
    source_ip: str | None = None
    user: str | None = None
    tenant: str | None = None
    session: str | None = None
    service: str | None = None
    request_method: str | None = None
    request_path: str | None = None
    extras: dict[str, str | int | float | bool] = field(default_factory=dict)


def is_secret_name(name: str) -> bool:
    """Whether a field called NAME may hold a secret (ids of tokens and keys may not)."""
    if name.endswith("_id") or name in {"kind", "key_id", "token_id"}:
        return False
    return bool(_SECRET_NAME.search(name))


def mask(text: str) -> str:
    """TEXT with anything shaped like a ShieldX API key replaced by its prefix and '…'."""
    return _API_KEY.sub(lambda m: m.group(0)[:12] + "…", text)


def _scalar(value: Any) -> str | int | float | bool | None:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        text = mask(value)
        return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"
    if isinstance(value, list | tuple) and all(
        isinstance(v, str | int | float | bool) for v in value
    ):
        return _scalar(",".join(str(v) for v in value))
    return None  # nested objects are not exported: flat extras keep every format simple


def _time(payload: Mapping[str, Any], received_at: float) -> datetime:
    for name in _TIME_FIELDS:
        value = payload.get(name)
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            # Microseconds (the ledger's *_us) or seconds since the epoch.
            seconds = value / 1_000_000 if value > 1e12 else float(value)
            return datetime.fromtimestamp(seconds, UTC)
    return datetime.fromtimestamp(received_at, UTC)


def _text(payload: Mapping[str, Any], *names: str) -> str | None:
    for name in names:
        value = payload.get(name)
        if isinstance(value, str) and value:
            return mask(value)[:MAX_TEXT]
    return None


def normalize(topic: str, payload: Mapping[str, Any], *, received_at: float) -> SecurityEvent:
    """The SecurityEvent of a bus event: common fields picked out, the rest as safe extras."""
    kind = KINDS.get(topic, GENERIC)
    severity = str(payload.get("severity", "")).lower()
    if severity not in SEVERITIES:
        severity = kind.severity
    detail = _text(payload, "message", "subject", "detail", "reason") or " ".join(
        f"{name}={mask(str(payload[name]))[:200]}"
        for name in kind.detail
        if payload.get(name) not in (None, "")
    )
    extras: dict[str, str | int | float | bool] = {}
    for name, value in payload.items():
        if name in _CONTENT_FIELDS or is_secret_name(name) or name in {"severity", "event"}:
            continue
        shown = _scalar(value)
        if shown is not None:
            extras[name] = shown
    source = _text(payload, *_SOURCE_FIELDS)
    return SecurityEvent(
        id=topic,
        kind=kind,
        time=_time(payload, received_at),
        severity=severity,
        message=f"{kind.name}: {detail}" if detail else kind.name,
        outcome=kind.outcome,
        source_ip=_address(source),
        user=_text(payload, "key_id", "user", "by"),
        tenant=_text(payload, "tenant"),
        session=_text(payload, "session_id"),
        service=_text(payload, "service"),
        request_method=_text(payload, "method"),
        request_path=_text(payload, "path"),
        extras=extras,
    )


def _address(text: str | None) -> str | None:
    """The IP address in TEXT ('203.0.113.9', '203.0.113.9:4711', '::1'), or None."""
    if text is None:
        return None
    for candidate in (text, text.rsplit(":", 1)[0] if text.count(":") == 1 else text):
        try:
            return str(ipaddress.ip_address(candidate.strip("[]")))
        except ValueError:
            continue
    return None


# --- CEF -------------------------------------------------------------------------------------


def cef_header_escape(text: str) -> str:
    """A CEF header field: backslash and pipe escaped, line breaks turned into spaces."""
    escaped = text.replace("\\", "\\\\").replace("|", "\\|")
    return escaped.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


def cef_value_escape(text: str) -> str:
    """A CEF extension value: backslash and equals sign escaped, line breaks as \\n and \\r."""
    escaped = text.replace("\\", "\\\\").replace("=", "\\=")
    return escaped.replace("\n", "\\n").replace("\r", "\\r")


def to_cef(event: SecurityEvent, *, host: str, version: str) -> str:
    """The event as one CEF line (no syslog header)."""
    ext: list[tuple[str, str]] = [
        ("rt", str(int(event.time.timestamp() * 1000))),
        ("dvchost", host),
        ("cat", ",".join(event.kind.category)),
        ("outcome", event.outcome),
        ("msg", event.message),
    ]
    if event.source_ip is not None:
        ext.append(("c6a2" if ":" in event.source_ip else "src", event.source_ip))
        if ":" in event.source_ip:
            ext.append(("c6a2Label", "sourceIPv6Address"))
    if event.user is not None:
        ext.append(("suser", event.user))
    if event.request_method is not None:
        ext.append(("requestMethod", event.request_method))
    if event.request_path is not None:
        ext.append(("request", event.request_path))
    custom = (
        ("tenant", event.tenant),
        ("session", event.session),
        ("service", event.service),
        ("details", json.dumps(event.extras, sort_keys=True, separators=(",", ":"))),
    )
    for number, (label, value) in enumerate(custom, start=1):
        if value is not None:
            ext.extend(((f"cs{number}", value), (f"cs{number}Label", label)))
    header = "|".join(
        cef_header_escape(part)
        for part in (
            VENDOR,
            PRODUCT,
            version,
            event.id,
            event.kind.name,
            str(CEF_SEVERITY[event.severity]),
        )
    )
    extension = " ".join(f"{key}={cef_value_escape(value)}" for key, value in ext)
    return f"CEF:0|{header}|{extension}"


# --- ECS -------------------------------------------------------------------------------------


def to_ecs(event: SecurityEvent, *, host: str, version: str) -> dict[str, Any]:
    """The event as an Elastic Common Schema document (nested objects, ECS field names)."""
    doc: dict[str, Any] = {
        "@timestamp": event.time.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "ecs": {"version": ECS_VERSION},
        "message": event.message,
        "event": {
            "kind": event.kind.ecs_kind,
            "category": list(event.kind.category),
            "type": list(event.kind.type),
            "action": event.id,
            "outcome": event.outcome,
            "severity": CEF_SEVERITY[event.severity],
            "provider": "shieldx",
            "dataset": f"shieldx.{event.id.split('.', 1)[0]}",
            "module": "shieldx",
        },
        "log": {"level": event.severity},
        "host": {"hostname": host},
        "observer": {"vendor": VENDOR, "product": PRODUCT, "version": version, "type": "ids"},
        "rule": {"name": event.kind.name},
        "shieldx": {"event_id": event.id, **event.extras},
    }
    if event.source_ip is not None:
        doc["source"] = {"ip": event.source_ip}
        doc["related"] = {"ip": [event.source_ip]}
    if event.user is not None:
        doc["user"] = {"id": event.user}
    if event.tenant is not None:
        doc["organization"] = {"id": event.tenant}
    if event.session is not None:
        doc["shieldx"]["session_id"] = event.session
    if event.service is not None:
        doc["service"] = {"name": f"shieldx-{event.service}", "type": "shieldx"}
    if event.request_method is not None:
        doc["http"] = {"request": {"method": event.request_method}}
    if event.request_path is not None:
        doc["url"] = {"path": event.request_path}
    return doc


def ecs_json(event: SecurityEvent, *, host: str, version: str) -> str:
    """The ECS document as compact JSON text."""
    return json.dumps(
        to_ecs(event, host=host, version=version), separators=(",", ":"), ensure_ascii=False
    )


# --- RFC 5424 syslog ---------------------------------------------------------------------------


def _printusascii(text: str, limit: int) -> str:
    cleaned = "".join(c if 33 <= ord(c) <= 126 else "_" for c in text)[:limit]
    return cleaned or "-"


def syslog_message(
    msg: str,
    *,
    event: SecurityEvent,
    facility: int,
    host: str,
    app: str = "shieldx",
    procid: str = "-",
) -> bytes:
    """One RFC 5424 message carrying MSG (no structured data; UTF-8 text)."""
    pri = facility * 8 + SYSLOG_SEVERITY[event.severity]
    stamp = event.time.isoformat(timespec="microseconds").replace("+00:00", "Z")
    header = (
        f"<{pri}>1 {stamp} {_printusascii(host, 255)} {_printusascii(app, 48)} "
        f"{_printusascii(procid, 128)} {_printusascii(event.id, 32)} -"
    )
    return f"{header} {msg}".encode()


def octet_counted(message: bytes) -> bytes:
    """RFC 6587 octet-counting framing: the length, a space, the message."""
    return b"%d %s" % (len(message), message)


# --- Splunk HEC --------------------------------------------------------------------------------


def hec_record(
    event: SecurityEvent,
    *,
    host: str,
    version: str,
    source: str,
    sourcetype: str,
    index: str | None,
) -> bytes:
    """One HTTP Event Collector event object (the ECS document as its event)."""
    record: dict[str, Any] = {
        "time": round(event.time.timestamp(), 6),
        "host": host,
        "source": source,
        "sourcetype": sourcetype,
        "event": to_ecs(event, host=host, version=version),
    }
    if index is not None:
        record["index"] = index
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode()
