"""Attribution for the API and the CLI: gather sessions and honeytoken uses, group, present.

Actors are computed when asked for, from the live sessions (API only) and the stored ones in
the requested window; honeytoken uses come from the platform's registry (its public
``uses_since``), never from another service's tables. Blocking reads go to a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from shieldx.camouflage.actors.domain import (
    JA4,
    JA4H,
    Actor,
    SessionFacts,
    TokenLink,
    TokenUse,
    attribute,
)
from shieldx.camouflage.actors.store import ActorStore, facts_from_summary
from shieldx.camouflage.recon.events import iso_time
from shieldx.platform.errors import Problem
from shieldx.platform.honeytokens import HoneytokenRegistry

if TYPE_CHECKING:
    from shieldx.camouflage.runtime import CamouflageService

#: Honeytoken uses read per query, and at most in all.
_USES_PAGE = 1000
MAX_USES = 50_000


def token_uses(
    registry: HoneytokenRegistry, session_ids: set[str], links: Sequence[TokenLink] = ()
) -> list[TokenUse]:
    """Every recorded use of a token shown to one of SESSION_IDS (blocking).

    A bait file's token is planted for its decoy, not for a session: its uses carry no
    session, and the sessions LINKS say were shown it stand for its owner (one use each).
    """
    shown: dict[str, list[str]] = {}
    for link in links:
        if link.session_id in session_ids:
            shown.setdefault(link.token_id, []).append(link.session_id)
    found: list[TokenUse] = []
    cursor = 0
    read = 0
    while read < MAX_USES:
        page = registry.uses_since(cursor, _USES_PAGE)
        if not page:
            break
        read += len(page)
        cursor = page[-1].use_id
        for u in page:
            if u.session_id is not None:
                owners = [u.session_id] if u.session_id in session_ids else []
            else:
                owners = shown.get(u.token_id, [])
            found += [
                TokenUse(
                    token_id=u.token_id,
                    session_id=owner,
                    kind=u.kind,
                    source=u.source,
                    location=u.location,
                    used_at=u.used_at.timestamp(),
                )
                for owner in owners
            ]
    return found


def actors_of(
    *,
    store: ActorStore,
    registry: HoneytokenRegistry,
    live: Sequence[SessionFacts] = (),
    since: float | None = None,
    limit: int = 2000,
    window_s: float = 3600.0,
) -> tuple[list[Actor], list[TokenLink], list[TokenUse]]:
    """The actors among LIVE and the stored sessions of the window (blocking)."""
    live_ids = {s.id for s in live}
    stored = [s for s in store.sessions(since=since, limit=limit) if s.id not in live_ids]
    facts = [s for s in live if since is None or s.last_seen >= since] + stored
    ids = {s.id for s in facts}
    links = store.token_links(sorted(ids))
    uses = token_uses(registry, ids, links)
    return attribute(facts, links, uses, window_s=window_s), links, uses


def summary(actor: Actor) -> dict[str, Any]:
    """An actor as the list views show it."""
    return {
        "id": actor.id,
        "score": actor.score,
        "sessions": [s.id for s in actor.sessions],
        "addresses": list(actor.addresses),
        "first_seen": actor.first_seen,
        "last_seen": actor.last_seen,
        "tools": actor.tools(),
        "user_agents": sorted({s.user_agent for s in actor.sessions if s.user_agent}),
        "fingerprints": {kind: actor.fingerprint_values(kind) for kind in (JA4H, JA4)},
        "techniques": [t.as_dict() for t in actor.techniques],
        "evidence": [e.as_dict() for e in actor.evidence],
    }


def listing(actors: Sequence[Actor]) -> list[dict[str, Any]]:
    """Actors as the list shows them (times as RFC 3339)."""
    out = []
    for actor in actors:
        view = summary(actor)
        view["first_seen"] = iso_time(view["first_seen"])
        view["last_seen"] = iso_time(view["last_seen"])
        out.append(view)
    return out


def detail(actor: Actor, links: Sequence[TokenLink], uses: Sequence[TokenUse]) -> dict[str, Any]:
    """One actor with its sessions and the honeytokens they took and used."""
    (view,) = listing([actor])
    mine = {s.id for s in actor.sessions}
    sessions = []
    for s in actor.sessions:
        row = asdict(s)
        row["session_id"] = row.pop("id")
        row["started"] = iso_time(s.started)
        row["last_seen"] = iso_time(s.last_seen)
        row["path_sample"] = list(s.path_sample)
        sessions.append(row)
    view["sessions"] = sessions
    view["honeytokens"] = [
        {
            "token_id": link.token_id,
            "session_id": link.session_id,
            "kind": link.kind,
            "path": link.path,
            "planted_at": iso_time(link.planted_at),
            "uses": [
                {"source": u.source, "location": u.location, "used_at": iso_time(u.used_at)}
                for u in uses
                if u.token_id == link.token_id
            ],
        }
        for link in links
        if link.session_id in mine
    ]
    return view


def stix_json(actors: Sequence[Actor], links: Sequence[TokenLink], *, sensor: str) -> str:
    """The STIX 2.1 bundle of ACTORS as JSON text."""
    from shieldx.camouflage.actors.stix import bundle

    return str(bundle(actors, links, sensor=sensor).serialize(pretty=True))


def _live_facts(service: CamouflageService) -> list[SessionFacts]:
    return [facts_from_summary(s.summary()) for s in service.tracker]


async def list_actors(
    service: CamouflageService, *, since: float | None, limit: int, sessions: int
) -> dict[str, Any]:
    """GET /v1/camouflage/actors: actors over the live and stored sessions, best score first."""
    await service.flush()
    live = _live_facts(service)
    store = ActorStore(service.ctx.db)
    actors, _, _ = await anyio.to_thread.run_sync(
        lambda: actors_of(
            store=store, registry=service.ctx.honeytokens, live=live, since=since, limit=sessions
        )
    )
    return {"actors": listing(actors[:limit]), "total": len(actors)}


async def actor_detail(
    service: CamouflageService, actor_id: str, *, since: float | None, sessions: int
) -> dict[str, Any]:
    """GET /v1/camouflage/actors/{id}: one actor, its sessions, evidence and honeytokens."""
    await service.flush()
    live = _live_facts(service)
    store = ActorStore(service.ctx.db)
    actors, links, uses = await anyio.to_thread.run_sync(
        lambda: actors_of(
            store=store, registry=service.ctx.honeytokens, live=live, since=since, limit=sessions
        )
    )
    for actor in actors:
        if actor.id == actor_id:
            return detail(actor, links, uses)
    raise Problem(
        404,
        f"no actor {actor_id!r} among the sessions considered (an actor's id is act_ plus its "
        "earliest session's id; it changes when that actor merges with an earlier one)",
        type="unknown-actor",
    )
