"""The STIX 2.1 bundle: strict parse, stable ids, addresses of both families, quoting, ATT&CK."""

from __future__ import annotations

import json
from typing import Any

import stix2

from shieldx.camouflage.actors.domain import Actor, SessionFacts, TokenLink, TokenUse, attribute
from shieldx.camouflage.actors.service import stix_json
from shieldx.camouflage.actors.stix import address_pattern, technique_url

START = 1_790_000_000.0


def _actors() -> tuple[list[Actor], list[TokenLink]]:
    seen = SessionFacts(
        id="a" * 16, source_ip="198.51.100.1", decoy="web", user_agent="it's \\ odd",
        started=START, last_seen=START + 5, requests=4, honeytokens_taken=1,
        attack_types={"sql_injection": 1}, tool="sqlmap", scanner="sqlmap",
        fingerprints={"ja4h": {"ge11nn030000_aaaaaaaaaaaa_000000000000_000000000000": 4},
                      "ja4": {"t13d1516h2_8daaf6152771_d8a2da3f94cd": 4}},
    )  # fmt: skip
    user = SessionFacts(
        id="b" * 16, source_ip="2001:db8::7", decoy="web", user_agent="",
        started=START + 60, last_seen=START + 61, requests=1,
    )  # fmt: skip
    link = TokenLink("0123456789abcdef", seen.id, "api_key", "/.env", START + 1)
    use = TokenUse(link.token_id, seen.id, "api_key", "2001:db8::7", "api_key", START + 30)
    return attribute([seen, user], [link], [use]), [link]


def test_the_bundle_parses_strictly_and_is_stable() -> None:
    actors, links = _actors()
    text = stix_json(actors, links, sensor="edge-1")
    assert text == stix_json(actors, links, sensor="edge-1")
    bundle = stix2.parse(text, allow_custom=False)
    by_type: dict[str, list[Any]] = {}
    for obj in bundle.objects:
        by_type.setdefault(obj.type, []).append(obj)
    (actor,) = by_type["threat-actor"]
    assert actor.confidence >= 90 and actor.threat_actor_types == ["unknown"]
    patterns = {o.pattern for o in by_type["indicator"]}
    assert "[ipv4-addr:value = '198.51.100.1']" in patterns
    assert "[ipv6-addr:value = '2001:db8::7']" in patterns
    assert (
        "[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = "
        "'it\\'s \\\\ odd']" in patterns
    )
    assert "[network-traffic:x_ja4 = 't13d1516h2_8daaf6152771_d8a2da3f94cd']" in patterns
    assert "[user-account:x_honeytoken_id = '0123456789abcdef']" in patterns
    refs = {r["external_id"]: r["url"] for o in by_type["attack-pattern"]
            for r in o.external_references}  # fmt: skip
    assert refs["T1552.001"] == "https://attack.mitre.org/techniques/T1552/001/"
    assert {"T1190", "T1078", "T1595.002"} <= set(refs)
    kinds = {(r.relationship_type, r.source_ref.split("--")[0], r.target_ref.split("--")[0])
             for r in by_type["relationship"]}  # fmt: skip
    assert kinds == {("indicates", "indicator", "threat-actor"),
                     ("uses", "threat-actor", "attack-pattern")}  # fmt: skip
    assert len(by_type["sighting"]) == len(by_type["indicator"])
    assert all(s.where_sighted_refs == [by_type["identity"][0].id] for s in by_type["sighting"])


def test_an_empty_export_is_a_valid_bundle() -> None:
    bundle = json.loads(stix_json([], [], sensor="edge-1"))
    assert bundle["type"] == "bundle"
    assert stix2.parse(json.dumps(bundle), allow_custom=False).type == "bundle"
    assert address_pattern("::1") == "[ipv6-addr:value = '::1']"
    assert technique_url("T1595") == "https://attack.mitre.org/techniques/T1595/"
