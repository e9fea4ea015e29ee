"""SIEM formats checked against their specifications by independent parsers.

CEF: an ArcSight CEF (revision 25) parser written from the spec (header: seven unescaped
pipes, ``\\|`` and ``\\\\`` escapes; extension: ``key=value`` pairs, ``\\=``, ``\\\\``, ``\\n``,
``\\r`` escapes, keys from the spec's dictionary). ECS: every leaf field of a document is an
ECS 9.4 field of the right type (vendored field list, ``ecs_fields.json``) or lives under our
``shieldx.*`` namespace, and ``event.kind/category/type/outcome`` hold allowed values only.
RFC 5424: the header matches the ABNF of section 6.
"""

from __future__ import annotations

import ipaddress
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from shieldx.platform.siem.domain import (
    KINDS,
    SecurityEvent,
    ecs_json,
    hec_record,
    normalize,
    octet_counted,
    syslog_message,
    to_cef,
    to_ecs,
)
from shieldx.testing.siem import parse_cef

ECS = json.loads((Path(__file__).parent / "ecs_fields.json").read_text())["fields"]
# The extension keys ShieldX may write: names from the CEF revision 25 key dictionary.
CEF_KEYS = {
    "rt", "dvchost", "cat", "outcome", "msg", "src", "suser", "requestMethod", "request",
    "c6a2", "c6a2Label", "cs1", "cs1Label", "cs2", "cs2Label", "cs3", "cs3Label", "cs4",
    "cs4Label",
}  # fmt: skip
HOSTILE = st.text(alphabet=st.sampled_from(list("ab =|\\\n\r\t\"'é{}:x")), max_size=40)


def _event(**payload: Any) -> SecurityEvent:
    return normalize("auth.failed", payload, received_at=1_796_292_000.25)


@given(reason=HOSTILE, tenant=HOSTILE)
def test_cef_round_trips_any_text_through_a_spec_parser(reason: str, tenant: str) -> None:
    event = _event(source="203.0.113.9", reason=reason, tenant=tenant or None)
    header, ext = parse_cef(to_cef(event, host="edge|1", version="1.0\\b"))
    assert header == ["0", "ShieldX", "ShieldX", "1.0\\b", "auth.failed", "API key refused", "3"]
    assert set(ext) <= CEF_KEYS
    assert ext["dvchost"] == "edge|1"
    assert ext["src"] == "203.0.113.9"
    assert ext["msg"] == event.message
    assert ext["rt"] == "1796292000250"
    if tenant:
        assert ext["cs1Label"] == "tenant" and ext["cs1"] == tenant
    assert json.loads(ext["cs4"]) == event.extras


def test_cef_header_never_breaks_on_pipes_or_newlines() -> None:
    event = normalize(
        "compliance.alert.raised",
        {"subject": "a|b\\c\nd", "severity": "critical", "id": "al_1"},
        received_at=0,
    )
    header, ext = parse_cef(to_cef(event, host="h", version="1"))
    assert header[5] == "Compliance alert" and header[6] == "10"
    assert ext["msg"] == "Compliance alert: a|b\\c\nd"


def _leaves(doc: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            found.extend(_leaves(value, name + "."))
        else:
            found.append((name, value))
    return found


_ECS_TYPES: dict[str, Any] = {
    "keyword": str,
    "constant_keyword": str,
    "match_only_text": str,
    "wildcard": str,
    "text": str,
    "long": int,
    "date": str,
    "ip": str,
}


def _check_ecs(doc: dict[str, Any]) -> None:
    for name, value in _leaves(doc):
        if name.startswith("shieldx."):
            assert "." not in name.removeprefix("shieldx."), name
            continue
        assert name in ECS, f"{name} is not an ECS 9.4 field"
        spec = ECS[name]
        values = value if isinstance(value, list) else [value]
        if isinstance(value, list):
            assert "array" in spec.get("normalize", []) or spec["type"] == "ip", name
        for item in values:
            assert isinstance(item, _ECS_TYPES[spec["type"]]), (name, item)
            if spec["type"] == "ip":
                ipaddress.ip_address(item)
            if spec["type"] == "date":
                assert datetime.fromisoformat(item.replace("Z", "+00:00")).tzinfo is not None
            if "allowed" in spec:
                assert item in spec["allowed"], f"{name}={item!r} is not an allowed value"
    expected = {t for c in doc["event"]["category"] for t in ECS["event.category"]["allowed"][c]}
    assert set(doc["event"]["type"]) <= expected, "event.type does not fit event.category"


def test_every_kind_makes_a_valid_ecs_document() -> None:
    payload = {
        "source_ip": "2001:db8::7",
        "key_id": "k1",
        "tenant": "acme",
        "session_id": "s1",
        "method": "GET",
        "path": "/.env",
        "service": "credits",
        "count": 3,
        "ratio": 0.5,
        "flag": True,
        "tools": ["nmap", "nikto"],
    }
    for topic in [*KINDS, "something.new"]:
        doc = to_ecs(normalize(topic, payload, received_at=5.0), host="h", version="1")
        _check_ecs(doc)
        assert doc["event"]["action"] == topic
        assert doc["source"]["ip"] == "2001:db8::7"
        assert doc["shieldx"]["tools"] == "nmap,nikto"


def test_secrets_and_request_contents_never_leave() -> None:
    key = "shx_0123456789ab_" + "S" * 43
    event = normalize(
        "camouflage.request",
        {
            "source_ip": "198.51.100.4",
            "headers": [["Authorization", f"Bearer {key}"]],
            "body": "password=hunter2",
            "query": "token=abc",
            "webhook_secret": "s3cr3t-s3cr3t",
            "api_key": key,
            "password": "hunter2",
            "token": "abc",
            "token_id": "ht_1",
            "reason": f"used {key}",
        },
        received_at=0,
    )
    texts = [
        to_cef(event, host="h", version="1"),
        ecs_json(event, host="h", version="1"),
        hec_record(event, host="h", version="1", source="s", sourcetype="t", index=None).decode(),
    ]
    for text in texts:
        for secret in (key, "hunter2", "s3cr3t", "token=abc", "S" * 20):
            assert secret not in text
        assert "ht_1" in text  # an id is not a secret
        assert "shx_01234567…" in text


def test_rfc5424_header_follows_the_abnf() -> None:
    event = normalize("honeytoken.used", {"source": "192.0.2.1"}, received_at=1_796_292_000.0)
    message = syslog_message("hello wörld", event=event, facility=10, host="my host", procid="77")
    header = re.compile(
        rb"^<(?P<pri>[0-9]{1,3})>1 (?P<ts>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z) "
        rb"(?P<host>[!-~]{1,255}) (?P<app>[!-~]{1,48}) (?P<proc>[!-~]{1,128}) "
        rb"(?P<msgid>[!-~]{1,32}) - (?P<msg>.*)$"
    )
    match = header.match(message)
    assert match is not None, message
    assert int(match["pri"]) == 10 * 8 + 2  # authpriv, critical
    assert match["host"] == b"my_host" and match["msgid"] == b"honeytoken.used"
    assert match["msg"].decode() == "hello wörld"
    assert octet_counted(message) == str(len(message)).encode() + b" " + message


def test_hec_record_shape() -> None:
    event = normalize("auth.failed", {"source": "127.0.0.1"}, received_at=1_796_292_000.5)
    record = json.loads(
        hec_record(event, host="h", version="1", source="shieldx", sourcetype="st", index="sec")
    )
    assert record["time"] == 1_796_292_000.5
    assert record["index"] == "sec" and record["sourcetype"] == "st"
    _check_ecs(record["event"])


def test_times_come_from_the_payload_in_any_of_its_forms() -> None:
    iso = normalize("x", {"time": "2026-01-02T03:04:05.5Z"}, received_at=0)
    micros = normalize("x", {"at": 1_767_323_045_500_000}, received_at=0)
    fallback = normalize("x", {}, received_at=1_767_323_045.5)
    assert iso.time == micros.time == fallback.time
