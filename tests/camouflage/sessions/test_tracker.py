"""Sessions: grouping, idle timeout, LRU cap, markers' aliases, engagement."""

from __future__ import annotations

from shieldx.camouflage.recon.classify import classify_request
from shieldx.camouflage.sessions.tracker import (
    EngagementThreshold,
    LiveSession,
    SessionTracker,
    is_session_id,
    new_session_id,
)


def _tracker(
    closed: list[tuple[str, str]], *, idle: float = 75.0, cap: int = 100, paths: int = 256
) -> SessionTracker:
    return SessionTracker(
        idle_timeout_s=idle,
        max_live=cap,
        max_tracked_paths=paths,
        on_close=lambda s, reason: closed.append((s.id, reason)),
    )


def _open(tracker: SessionTracker, ip: str, ua: str = "curl/8.5.0", *, now: float = 0.0,
          decoy: str = "web", session_id: str | None = None) -> LiveSession:  # fmt: skip
    return tracker.session_for(
        source_ip=ip,
        user_agent=ua,
        decoy=decoy,
        template="nginx-1.22.1-debian",
        source_port=40000,
        now=now,
        session_id=session_id,
    )


def _hit(tracker: SessionTracker, session: LiveSession, path: str, *, status: int = 200,
         at: float = 0.0, depth: int = 0, ua: str = "curl/8.5.0") -> None:  # fmt: skip
    verdict = classify_request(
        method="GET", path=path, query="", http_version="HTTP/1.1", headers=(("User-Agent", ua),)
    )
    tracker.record(
        session, path=path, status=status, maze_depth=depth, request_class=verdict, at=at
    )


def test_requests_group_by_address_user_agent_and_decoy() -> None:
    tracker = _tracker([])
    a = _open(tracker, "203.0.113.1")
    assert _open(tracker, "203.0.113.1") is a
    assert _open(tracker, "203.0.113.1", "Wget/1.21") is not a
    assert _open(tracker, "203.0.113.2") is not a
    assert _open(tracker, "203.0.113.1", decoy="other") is not a
    assert len(tracker) == 4
    assert is_session_id(a.id) and not is_session_id("xyz")


def test_figures_and_classification() -> None:
    tracker = _tracker([])
    s = _open(tracker, "198.51.100.9", now=100.0)
    _hit(tracker, s, "/", at=100.0)
    _hit(tracker, s, "/.env", at=103.0, status=404)
    _hit(tracker, s, "/.env", at=104.5, status=404)
    _hit(tracker, s, "/backup/x/", at=110.0, depth=2)
    assert s.requests == 4
    assert s.distinct_paths == 3
    assert s.missing == 2
    assert s.maze_depth == 2
    assert s.duration_s == 10.0
    assert s.attack_counts == {"secrets_probe": 2}
    assert s.scanner.family == "http_client" and s.scanner.tool == "curl"
    summary = s.summary()
    assert summary["requests"] == 4 and summary["attack_types"] == {"secrets_probe": 2}


def test_content_discovery_is_recognised_from_behaviour() -> None:
    tracker = _tracker([])
    ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36"
    s = _open(tracker, "192.0.2.50", ua)
    for i in range(30):
        _hit(tracker, s, f"/word{i}", status=404, ua=ua)
    assert s.scanner.family == "dirbuster"


def test_idle_sessions_close_after_the_timeout() -> None:
    closed: list[tuple[str, str]] = []
    tracker = _tracker(closed, idle=75.0)
    old = _open(tracker, "192.0.2.1", now=0.0)
    young = _open(tracker, "192.0.2.2", now=50.0)
    assert tracker.sweep(74.0) == 0
    assert tracker.sweep(76.0) == 1
    assert closed == [(old.id, "idle")]
    assert tracker.get(young.id) is young
    # A request keeps a session alive.
    _open(tracker, "192.0.2.2", now=120.0)
    assert tracker.sweep(140.0) == 0
    assert tracker.sweep(196.0) == 1


def test_the_cap_evicts_the_least_recently_active() -> None:
    closed: list[tuple[str, str]] = []
    tracker = _tracker(closed, cap=10)
    first = _open(tracker, "10.0.0.0")
    for i in range(1, 10):
        _open(tracker, f"10.0.0.{i}")
    _open(tracker, "10.0.0.0")  # first is now the most recent
    newcomer = _open(tracker, "10.0.1.1")
    assert len(tracker) == 10
    assert [reason for _, reason in closed] == ["evicted"]
    assert tracker.get(first.id) is first and tracker.get(newcomer.id) is newcomer
    for i in range(1000):
        _open(tracker, f"10.1.{i // 250}.{i % 250}")
    assert len(tracker) == 10 and tracker.evicted == 1001


def test_a_marker_ties_a_new_address_to_its_live_session() -> None:
    tracker = _tracker([])
    s = _open(tracker, "198.51.100.1", "scraper/1.0")
    moved = _open(tracker, "198.51.100.77", "scraper/1.0", session_id=s.id)
    assert moved is s
    # Later requests from the new address, without the marker, land there too.
    assert _open(tracker, "198.51.100.77", "scraper/1.0") is s


def test_a_marker_of_a_closed_session_links_the_new_one() -> None:
    closed: list[tuple[str, str]] = []
    tracker = _tracker(closed)
    s = _open(tracker, "198.51.100.1", now=0.0)
    tracker.sweep(1000.0)
    again = _open(tracker, "198.51.100.2", now=1000.0, session_id=s.id)
    assert again.id != s.id and again.linked_to == s.id


def test_assigned_session_ids_are_claimed_once() -> None:
    assigned = {"203.0.113.9": new_session_id()}
    tracker = SessionTracker(
        idle_timeout_s=75,
        max_live=10,
        max_tracked_paths=8,
        on_close=lambda s, r: None,
        claim_assigned=lambda ip, decoy: assigned.pop(ip, None),
    )
    wanted = assigned["203.0.113.9"]
    assert _open(tracker, "203.0.113.9").id == wanted
    assert _open(tracker, "203.0.113.9", "other-agent").id != wanted


def test_distinct_paths_stop_at_the_cap() -> None:
    tracker = _tracker([], paths=8)
    s = _open(tracker, "192.0.2.9")
    for i in range(100):
        _hit(tracker, s, f"/p{i}")
    assert s.distinct_paths == 8 and len(s.paths) == 8 and s.paths_saturated


def test_engagement_threshold() -> None:
    threshold = EngagementThreshold(min_requests=5, min_duration_s=30, min_maze_depth=2)
    tracker = _tracker([])
    quick = _open(tracker, "192.0.2.10")
    _hit(tracker, quick, "/")
    assert not quick.engaged(threshold)
    busy = _open(tracker, "192.0.2.11")
    for _ in range(5):
        _hit(tracker, busy, "/")
    assert busy.engaged(threshold)
    slow = _open(tracker, "192.0.2.12")
    _hit(tracker, slow, "/", at=0.0)
    _hit(tracker, slow, "/a", at=31.0)
    assert slow.engaged(threshold)
    deep = _open(tracker, "192.0.2.13")
    _hit(tracker, deep, "/backup/a/b/", depth=2)
    assert deep.engaged(threshold)
    thief = _open(tracker, "192.0.2.14")
    thief.honeytokens_taken = 1
    assert thief.engaged(threshold)


def test_close_all_closes_every_session() -> None:
    closed: list[tuple[str, str]] = []
    tracker = _tracker(closed)
    for i in range(5):
        _open(tracker, f"192.0.2.{i}")
    assert tracker.close_all("shutdown") == 5
    assert len(tracker) == 0 and {r for _, r in closed} == {"shutdown"}
