"""Attribution's reads on both backends: stored sessions with their clues, links, uses, actors."""

from __future__ import annotations

from datetime import UTC, datetime

from shieldx.camouflage.actors.service import actors_of, token_uses
from shieldx.camouflage.actors.store import ActorStore
from shieldx.camouflage.recon.classify import classify_request
from shieldx.camouflage.recon.events import SESSION_CLOSED, Stamper
from shieldx.camouflage.sessions.tracker import LiveSession, SessionTracker
from shieldx.camouflage.store import Batch, CamouflageStore, encode_event, session_row
from shieldx.platform.context import PlatformContext
from shieldx.platform.honeytokens import token_hash

PRINT = "ge11nn030000_aaaaaaaaaaaa_000000000000_000000000000"
VERDICT = classify_request(
    method="GET", path="/.env", query="", http_version="HTTP/1.1",
    headers=[("User-Agent", "curl/8.5.0")],
)  # fmt: skip


def _store_closed(session: LiveSession, batch: Batch, stamper: Stamper) -> None:
    summary = session.summary()
    fields = {k: v for k, v in summary.items() if k not in ("session_id", "decoy")}
    event = stamper.stamp(
        SESSION_CLOSED, at=summary["last_seen"], session_id=session.id, decoy=session.decoy,
        fields=fields,
    )  # fmt: skip
    batch.events.append(encode_event(summary["last_seen"], event))
    batch.sessions.append(
        session_row(summary, ended_at=summary["last_seen"] + 1, reason="idle", engaged=True)
    )


def test_stored_sessions_keep_their_clues_and_group(ctx_on_backend: PlatformContext) -> None:
    ctx = ctx_on_backend
    closed: list[LiveSession] = []
    tracker = SessionTracker(
        idle_timeout_s=60, max_live=1000, max_tracked_paths=64,
        on_close=lambda s, _reason: closed.append(s),
    )  # fmt: skip
    # 600 sessions (more than one IN list), each of its own address, an hour apart.
    for i in range(600):
        start = 1_000_000.0 + i * 7200
        session = tracker.session_for(
            source_ip=f"10.0.{i // 256}.{i % 256}", user_agent="curl/8.5.0", decoy="web",
            template="nginx-1.22.1-debian", source_port=40000, now=start,
        )  # fmt: skip
        for step, path in enumerate(("/", "/.env", "/admin/")):
            tracker.record(
                session, path=path, status=200, maze_depth=0, request_class=VERDICT,
                at=start + step * 0.5, fingerprints=[("ja4h", PRINT)],
            )  # fmt: skip
    tracker.close_all("shutdown")
    batch = Batch()
    stamper = Stamper("t")
    for session in closed:
        _store_closed(session, batch, stamper)
    thief, user = closed[0], closed[1]
    token = "planted-credential-0123456789"
    token_id = ctx.honeytokens.plant(token=token, kind="api_key", session_id=thief.id, decoy="web")
    batch.honeytoken_links.append(
        {"token_id": token_id, "session_id": thief.id, "decoy": "web", "kind": "api_key",
         "path": "/.env", "planted_at": thief.started, "uses": 0, "last_used_at": None}
    )  # fmt: skip
    CamouflageStore(ctx.db).write_batch(batch)
    ctx.honeytokens.check_now([(token_hash(token), "api_key", user.source_ip, datetime.now(UTC))])

    store = ActorStore(ctx.db)
    stored = {s.id: s for s in store.sessions(since=None, limit=1000)}
    assert len(stored) == 600
    first = stored[thief.id]
    assert first.fingerprints == {"ja4h": {PRINT: 3}}
    assert first.path_sample == ("/", "/.env", "/admin/") and first.cadence_s == 0.5
    assert first.attack_types == {"secrets_probe": 3}
    assert [link.path for link in store.token_links(sorted(stored))] == ["/.env"]
    (use,) = token_uses(ctx.honeytokens, set(stored))
    assert use.source == user.source_ip and use.session_id == thief.id
    assert len(store.sessions(since=1_000_000.0 + 599 * 7200, limit=1000)) == 1

    actors, _, _ = actors_of(store=store, registry=ctx.honeytokens, limit=1000)
    # Same tool everywhere, but hours apart and from 600 addresses: only the token links two.
    assert len(actors) == 599
    assert {s.id for s in actors[0].sessions} == {thief.id, user.id}
