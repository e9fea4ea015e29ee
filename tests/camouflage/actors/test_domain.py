"""Attribution rules on hand-built sessions: links, fingerprints, rarity, time, score, ATT&CK."""

from __future__ import annotations

from typing import Any

from shieldx.camouflage.actors.attack import TECHNIQUES, technique_rules
from shieldx.camouflage.actors.domain import (
    SessionFacts,
    TokenLink,
    TokenUse,
    attribute,
    noisy_or,
    rarity,
)

NIKTO = "ge11nn04en00_aaaaaaaaaaaa_000000000000_000000000000"
CUSTOM = "ge11nn07enus_bbbbbbbbbbbb_000000000000_000000000000"
PATHS = ("/", "/admin/", "/.git/config", "/backup.zip", "/wp-login.php")


def facts(sid: str, ip: str, **kw: Any) -> SessionFacts:
    base: dict[str, Any] = {
        "id": sid,
        "source_ip": ip,
        "decoy": "web",
        "user_agent": "",
        "started": 1000.0,
        "last_seen": 1100.0,
        "requests": 3,
    }
    base.update(kw)
    return SessionFacts(**base)


def groups(actors: list[Any]) -> set[frozenset[str]]:
    return {frozenset(s.id for s in a.sessions) for a in actors}


def test_a_honeytoken_used_from_another_address_joins_that_address() -> None:
    seen = facts("a" * 16, "198.51.100.1", honeytokens_taken=2, user_agent="curl/8.5.0")
    user = facts("b" * 16, "203.0.113.9", user_agent="python-httpx/0.27", started=5000.0,
                 last_seen=5100.0)  # fmt: skip
    stranger = facts("c" * 16, "192.0.2.7", user_agent="curl/8.5.0")
    link = TokenLink("t1", seen.id, "api_key", "/.env", 1001.0)
    use = TokenUse("t1", seen.id, "api_key", "203.0.113.9", "api_key", 5050.0)
    actors = attribute([seen, user, stranger], [link], [use, use])
    assert groups(actors) == {frozenset({seen.id, user.id}), frozenset({stranger.id})}
    top = actors[0]
    assert top.id == f"act_{seen.id}" and top.score >= 0.9
    (reuse,) = [e for e in top.evidence if e.kind == "honeytoken_reuse"]
    assert reuse.value == "t1" and "/.env" in reuse.summary
    assert {t.id for t in top.techniques} >= {"T1595", "T1552.001", "T1078"}
    assert top.addresses == ("198.51.100.1", "203.0.113.9")


def test_a_use_with_no_session_from_that_address_still_names_the_address() -> None:
    seen = facts("a" * 16, "198.51.100.1", honeytokens_taken=1)
    use = TokenUse("t1", seen.id, "jwt", "203.0.113.50", "locator.introspect", 1200.0)
    (actor,) = attribute([seen], [], [use])
    assert actor.addresses == ("198.51.100.1", "203.0.113.50")
    assert any(e.kind == "honeytoken_reuse" for e in actor.evidence)


def test_shared_fingerprints_paths_and_time_merge_two_addresses() -> None:
    a = facts("a" * 16, "198.51.100.1", user_agent="Rare/1", fingerprints={"ja4h": {CUSTOM: 5}},
              path_sample=PATHS, cadence_s=0.5)  # fmt: skip
    b = facts("b" * 16, "198.51.100.2", user_agent="Rare/1", fingerprints={"ja4h": {CUSTOM: 4}},
              path_sample=PATHS[:4], cadence_s=0.55, started=1200.0, last_seen=1300.0)  # fmt: skip
    (actor,) = attribute([a, b])
    assert {e.kind for e in actor.evidence} >= {"ja4h", "user_agent", "path_sequence", "cadence"}
    # The same two, a day apart: the clues stay, the merge does not happen.
    late = facts("b" * 16, "198.51.100.2", user_agent="Rare/1", fingerprints={"ja4h": {CUSTOM: 4}},
                 path_sample=PATHS[:4], cadence_s=0.55, started=90000.0, last_seen=90100.0)  # fmt: skip
    assert len(attribute([a, late])) == 2


def test_one_fingerprint_alone_does_not_merge() -> None:
    a = facts("a" * 16, "198.51.100.1", fingerprints={"ja4h": {CUSTOM: 1}})
    b = facts("b" * 16, "198.51.100.2", fingerprints={"ja4h": {CUSTOM: 1}})
    assert len(attribute([a, b])) == 2


def test_a_stock_tool_run_from_many_addresses_is_not_one_actor() -> None:
    scans = [
        facts(
            f"{i:016x}",
            f"192.0.2.{i}",
            user_agent="Mozilla/5.00 (Nikto/2.5.0)",
            fingerprints={"ja4h": {NIKTO: 50}},
            path_sample=PATHS,
            tool="nikto",
            scanner="nikto",
        )
        for i in range(1, 9)
    ]
    actors = attribute(scans)
    assert len(actors) == 8
    assert all({t.id for t in a.techniques} >= {"T1595", "T1595.002"} for a in actors)
    assert rarity(8) == 0.25 and rarity(2) == 1.0


def test_same_address_and_link_markers_merge() -> None:
    a = facts("a" * 16, "198.51.100.1", user_agent="nmap")
    b = facts("b" * 16, "198.51.100.1", user_agent="curl/8", started=2000.0, last_seen=2001.0)
    c = facts("c" * 16, "198.51.100.3", linked_to="b" * 16, maze_depth=2)
    (actor,) = attribute([a, b, c])
    kinds = {e.kind for e in actor.evidence}
    assert {"shared_address", "link_marker"} <= kinds
    assert "T1083" in {t.id for t in actor.techniques}


def test_score_and_the_technique_table() -> None:
    assert noisy_or([]) == 0.0
    assert noisy_or([0.5, 0.5]) == 0.75
    assert noisy_or([0.9, 2.0]) == 1.0
    assert {row[0] for row in technique_rules} == set(TECHNIQUES)
    exploit = facts("a" * 16, "198.51.100.1", attack_types={"command_injection": 2})
    (actor,) = attribute([exploit])
    assert [t.id for t in actor.techniques] == ["T1595", "T1595.002", "T1190", "T1059.004"]
    assert 0.0 <= actor.score <= 1.0
