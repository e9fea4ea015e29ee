"""Actors as a STIX 2.1 bundle, built with the OASIS ``stix2`` library (strict: no custom objects).

Per actor: a ``threat-actor`` (confidence = attribution score x 100); an ``indicator`` per
address it was seen from (``ipv4-addr``/``ipv6-addr``), per User-Agent (HTTP request header)
and per JA4H / JA4 fingerprint (a pattern on ``network-traffic`` with the custom property
``x_ja4h`` / ``x_ja4``: STIX has no standard property for them; custom *properties in patterns*
are allowed, custom *objects* are not used), and per honeytoken it took
(``user-account:x_honeytoken_id``); an ``attack-pattern`` per ATT&CK technique with its
``mitre-attack`` external reference; relationships (indicator ``indicates`` actor, actor
``uses`` attack-pattern) and a ``sighting`` of each indicator by the sensor's ``identity``.
Ids are UUIDv5 of stable names, so exporting twice gives the same ids.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import stix2

from shieldx.camouflage.actors.domain import JA4, JA4H, Actor, TokenLink

_NAMESPACE = uuid.UUID("6f1f9d2e-8a43-4c55-9b59-5a8f3f1f0c11")
ATTACK_URL = "https://attack.mitre.org/techniques/"


def _id(kind: str, name: str) -> str:
    return f"{kind}--{uuid.uuid5(_NAMESPACE, kind + ':' + name)}"


def _time(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _quote(text: str) -> str:
    """TEXT as a STIX pattern string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def address_pattern(address: str) -> str:
    """The STIX pattern of one IPv4 or IPv6 address."""
    kind = "ipv6-addr" if ipaddress.ip_address(address).version == 6 else "ipv4-addr"
    return f"[{kind}:value = {_quote(address)}]"


def technique_url(technique_id: str) -> str:
    """The ATT&CK page of a technique (T1595.002 -> …/T1595/002/)."""
    return ATTACK_URL + technique_id.replace(".", "/") + "/"


class _Builder:
    def __init__(self, sensor: str) -> None:
        self.objects: dict[str, Any] = {}
        self.identity = stix2.Identity(
            id=_id("identity", sensor),
            name=f"ShieldX camouflage sensor {sensor}",
            identity_class="system",
            created=datetime(2026, 1, 1, tzinfo=UTC),
            modified=datetime(2026, 1, 1, tzinfo=UTC),
        )
        self.objects[self.identity.id] = self.identity

    def add(self, obj: Any) -> Any:
        self.objects.setdefault(obj.id, obj)
        return self.objects[obj.id]

    def indicator(self, actor: Actor, name: str, pattern: str, count: int, key: str) -> None:
        created, modified = _time(actor.first_seen), _time(actor.last_seen)
        indicator = self.add(
            stix2.Indicator(
                id=_id("indicator", f"{actor.id}:{key}"),
                name=name,
                pattern=pattern,
                pattern_type="stix",
                valid_from=created,
                indicator_types=["malicious-activity"],
                created=created,
                modified=modified,
                created_by_ref=self.identity.id,
            )
        )
        self.relate(indicator.id, "indicates", _id("threat-actor", actor.id), created, modified)
        self.add(
            stix2.Sighting(
                id=_id("sighting", f"{actor.id}:{key}"),
                sighting_of_ref=indicator.id,
                where_sighted_refs=[self.identity.id],
                first_seen=created,
                last_seen=modified,
                count=max(1, count),
                created=created,
                modified=modified,
                created_by_ref=self.identity.id,
            )
        )

    def relate(
        self, source: str, kind: str, target: str, created: datetime, modified: datetime
    ) -> None:
        self.add(
            stix2.Relationship(
                id=_id("relationship", f"{source}:{kind}:{target}"),
                source_ref=source,
                relationship_type=kind,
                target_ref=target,
                created=created,
                modified=modified,
                created_by_ref=self.identity.id,
            )
        )

    def actor(self, actor: Actor, links: Sequence[TokenLink]) -> None:
        created, modified = _time(actor.first_seen), _time(actor.last_seen)
        clues = "; ".join(e.summary for e in actor.evidence[:10])
        threat_actor = self.add(
            stix2.ThreatActor(
                id=_id("threat-actor", actor.id),
                name=f"ShieldX actor {actor.id}",
                description=(
                    f"{len(actor.sessions)} decoy session(s) from {', '.join(actor.addresses)}; "
                    f"attribution score {actor.score:.3f}. Evidence: {clues}"
                ),
                threat_actor_types=["unknown"],
                first_seen=created,
                last_seen=modified,
                confidence=round(actor.score * 100),
                created=created,
                modified=modified,
                created_by_ref=self.identity.id,
            )
        )
        for address in actor.addresses:
            count = sum(1 for s in actor.sessions if s.source_ip == address)
            self.indicator(
                actor, f"Address of {actor.id}", address_pattern(address), count, address
            )
        for agent in sorted({s.user_agent for s in actor.sessions if s.user_agent}):
            pattern = (
                "[network-traffic:extensions.'http-request-ext'.request_header."
                f"'User-Agent' = {_quote(agent)}]"
            )
            count = sum(1 for s in actor.sessions if s.user_agent == agent)
            self.indicator(actor, f"User-Agent of {actor.id}", pattern, count, "ua:" + agent)
        for kind in (JA4H, JA4):
            for value in actor.fingerprint_values(kind):
                pattern = f"[network-traffic:x_{kind} = {_quote(value)}]"
                count = sum(1 for s in actor.sessions if value in s.values(kind))
                name = f"{kind.upper()} fingerprint of {actor.id}"
                self.indicator(actor, name, pattern, count, f"{kind}:{value}")
        mine = {s.id for s in actor.sessions}
        for link in links:
            if link.session_id in mine:
                pattern = f"[user-account:x_honeytoken_id = {_quote(link.token_id)}]"
                name = f"Honeytoken ({link.kind}) taken by {actor.id} at {link.path}"
                self.indicator(actor, name, pattern, 1, "token:" + link.token_id)
        for technique in actor.techniques:
            pattern_obj = self.add(
                stix2.AttackPattern(
                    id=_id("attack-pattern", technique.id),
                    name=technique.name,
                    external_references=[
                        {
                            "source_name": "mitre-attack",
                            "external_id": technique.id,
                            "url": technique_url(technique.id),
                        }
                    ],
                    kill_chain_phases=[
                        {"kill_chain_name": "mitre-attack", "phase_name": technique.tactic}
                    ],
                    created=datetime(2026, 1, 1, tzinfo=UTC),
                    modified=datetime(2026, 1, 1, tzinfo=UTC),
                )
            )
            self.relate(threat_actor.id, "uses", pattern_obj.id, created, modified)


def bundle(actors: Sequence[Actor], links: Sequence[TokenLink], *, sensor: str) -> Any:
    """The STIX 2.1 bundle of ACTORS (a ``stix2.Bundle``; ``serialize()`` gives its JSON)."""
    builder = _Builder(sensor)
    for actor in actors:
        builder.actor(actor, links)
    return stix2.Bundle(
        objects=list(builder.objects.values()),
        id=_id("bundle", ",".join(a.id for a in actors) or "empty"),
        allow_custom=False,
    )
