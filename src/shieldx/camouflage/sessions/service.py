"""Reading sessions for the API: live ones from the tracker, closed ones from the store.

Blocking reads go to a worker thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio.to_thread

from shieldx.camouflage.recon import events
from shieldx.camouflage.sessions.schemas import SessionOpen
from shieldx.camouflage.sessions.tracker import LiveSession
from shieldx.platform.errors import Problem

if TYPE_CHECKING:
    from shieldx.camouflage.runtime import CamouflageService


def open_session(service: CamouflageService, body: SessionOpen) -> dict[str, Any]:
    """POST /v1/camouflage/session: an external sensor's attacker session."""
    session = service.tracker.session_for(
        source_ip=body.source_ip,
        user_agent=body.user_agent,
        decoy=body.decoy,
        template=body.template,
        source_port=body.source_port,
        now=service.clock(),
        via="sensor",
    )
    return live_view(session)


def live_view(session: LiveSession) -> dict[str, Any]:
    """A live session as the API shows it."""
    view = session.summary()
    view["status"] = "live"
    view["started"] = events.iso_time(view["started"])
    view["last_seen"] = events.iso_time(view["last_seen"])
    return view


def stored_view(row: dict[str, Any]) -> dict[str, Any]:
    """A stored (closed) session as the API shows it."""
    view = dict(row)
    view["status"] = "closed"
    view["started"] = events.iso_time(view.pop("started_at"))
    view["last_seen"] = events.iso_time(view["last_seen"])
    view["ended"] = events.iso_time(view.pop("ended_at"))
    view["duration_s"] = round(max(0.0, row["last_seen"] - row["started_at"]), 3)
    return view


async def session_detail(
    service: CamouflageService, session_id: str, *, limit: int
) -> dict[str, Any]:
    """GET /v1/camouflage/session/{id}: figures, classification, events, honeytokens."""
    await service.flush()
    live = service.tracker.get(session_id)
    if live is not None:
        view = live_view(live)
    else:
        row = await anyio.to_thread.run_sync(service.store.session, session_id)
        if row is None:
            raise Problem(404, f"no session {session_id!r}", type="unknown-session")
        view = stored_view(row)
    store = service.store
    recent = await anyio.to_thread.run_sync(lambda: store.session_events(session_id, limit=limit))
    tokens = await anyio.to_thread.run_sync(store.honeytokens_of, session_id)
    linked = await anyio.to_thread.run_sync(store.linked_sessions, session_id)
    return {
        "session": view,
        "classification": {
            "scanner": view["scanner"],
            "tool": view["tool"],
            "attack_types": view["attack_types"],
        },
        "engagement": {
            key: view[key]
            for key in (
                "duration_s",
                "requests",
                "distinct_paths",
                "maze_depth",
                "honeytokens_taken",
                "honeytokens_used",
            )
        },
        "honeytokens": [
            {
                "token_id": t["token_id"],
                "kind": t["kind"],
                "path": t["path"],
                "planted_at": events.iso_time(t["planted_at"]),
                "uses": t["uses"],
            }
            for t in tokens
        ],
        "linked_sessions": linked,
        "events": recent,
    }


async def list_sessions(
    service: CamouflageService,
    *,
    since: float | None,
    decoy: str | None,
    attack_type: str | None,
    scanner: str | None,
    limit: int,
) -> dict[str, Any]:
    """GET /v1/camouflage/sessions: live and stored sessions, most recent first."""
    live = [
        s
        for s in service.tracker
        if (since is None or s.last_seen >= since)
        and (decoy is None or s.decoy == decoy)
        and (attack_type is None or attack_type in s.attack_counts)
        and (scanner is None or s.scanner.family == scanner)
    ]
    live.sort(key=lambda s: s.last_seen, reverse=True)
    store = service.store
    stored = await anyio.to_thread.run_sync(
        lambda: store.sessions(
            since=since, decoy=decoy, attack_type=attack_type, scanner=scanner, limit=limit
        )
    )
    views = [live_view(s) for s in live[:limit]] + [stored_view(r) for r in stored]
    views.sort(key=lambda v: v["last_seen"], reverse=True)
    return {"sessions": views[:limit], "live": len(service.tracker)}
