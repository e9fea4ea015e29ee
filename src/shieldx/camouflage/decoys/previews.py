"""The operations behind the management API: templates, selection, sessions, sensor reports.

Thin on purpose: each function validates nothing the schemas already validated, calls the
service's parts and shapes plain data. Blocking reads go to a worker thread.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Sequence
from typing import Any

import anyio.to_thread

from shieldx.camouflage import events
from shieldx.camouflage.decoys import UnknownTemplateError, list_templates, render
from shieldx.camouflage.schemas import (
    PreviewRequest,
    ReconReport,
    SelectContext,
    SessionOpen,
)
from shieldx.camouflage.selection import UnknownSession
from shieldx.camouflage.service import CamouflageService
from shieldx.camouflage.sessions import LiveSession
from shieldx.platform.errors import Problem


def _no_decoys() -> Problem:
    return Problem(
        409,
        "no decoys are configured: add camouflage.decoys to the configuration",
        type="no-decoys",
    )


def templates() -> list[dict[str, str]]:
    """Every bundled template's name, server, version and description."""
    return [
        {
            "name": info.name,
            "server": info.server,
            "version": info.version,
            "description": info.description,
            "dialect": info.dialect,
        }
        for info in list_templates()
    ]


def rendered(template: str, method: str, path: str, headers: Sequence[tuple[str, str]],
             *, server_name: str = "localhost", port: int = 80) -> dict[str, Any]:  # fmt: skip
    """A template's answer as JSON: status, headers in order, body (text and base64)."""
    try:
        response = render(
            template, method, path, headers, now=time.time(), server_name=server_name, port=port
        )
    except UnknownTemplateError as exc:
        raise Problem(404, str(exc.args[0]), type="unknown-template") from None
    return {
        "template": template,
        "status": response.status,
        "reason": response.reason,
        "headers": [list(h) for h in response.headers],
        "body": response.body.decode("utf-8", "replace"),
        "body_base64": base64.b64encode(response.body).decode("ascii"),
    }


def preview(name: str, body: PreviewRequest) -> dict[str, Any]:
    """POST /v1/camouflage/template/{name}."""
    context = body.context
    return rendered(
        name,
        body.method,
        body.path,
        [tuple(h) for h in context.headers],  # type: ignore[misc]
        server_name=context.server_name,
        port=context.port,
    )


async def select(service: CamouflageService, context: SelectContext) -> dict[str, Any]:
    """POST /select: the sticky Thompson choice for an attacker."""
    if service.selector is None:
        raise _no_decoys()
    choice = await service.selector.select(context.source_ip)
    return {
        "decoy": choice.decoy,
        "template": choice.template,
        "session_id": choice.session_id,
        "reason": choice.reason,
    }


async def adaptive(service: CamouflageService, context: SelectContext) -> dict[str, Any]:
    """POST /v1/camouflage/adaptive: select, render the decoy's answer, record the request."""
    chosen = await select(service, context)
    headers: list[tuple[str, str]] = [(n, v) for n, v in context.headers]
    if context.user_agent and not any(n.lower() == "user-agent" for n, _ in headers):
        headers.append(("User-Agent", context.user_agent))
    answer = rendered(chosen["template"], context.method, context.path, headers)
    now = service.clock()
    service.recorder.record(
        at=now,
        decoy=chosen["decoy"],
        template=chosen["template"],
        source_ip=context.source_ip,
        source_port=context.source_port,
        method=context.method,
        target=context.path,
        path=context.path.split("?", 1)[0],
        query=context.path.split("?", 1)[1] if "?" in context.path else "",
        http_version="HTTP/1.1",
        headers=tuple(headers),
        headers_truncated=False,
        body=b"",
        body_length=0,
        status=answer["status"],
        bytes_sent=len(base64.b64decode(answer["body_base64"])),
        malformed=False,
        reason="",
        via="adaptive",
    )
    return {**chosen, "response": answer}


async def feedback(service: CamouflageService, session_id: str, reward: float) -> dict[str, Any]:
    """POST /feedback: set one session's reward."""
    if service.selector is None:
        raise _no_decoys()
    live = service.tracker.get(session_id)
    try:
        return await service.selector.feedback(
            session_id, reward, live_decoy=live.decoy if live is not None else None
        )
    except UnknownSession:
        raise Problem(
            404, f"no session {session_id!r} on a configured decoy", type="unknown-session"
        ) from None


def graph(service: CamouflageService) -> dict[str, Any]:
    """GET /graph: the bandit's arms."""
    if service.selector is None:
        return {"decoys": [], "reward": _REWARD_TEXT}
    return {"decoys": service.selector.graph(), "reward": _REWARD_TEXT}


_REWARD_TEXT = (
    "Beta posterior on 'engaged': a session is engaged when it reaches any of "
    "camouflage.sessions.engaged_min_requests requests, engaged_min_duration, "
    "engaged_min_maze_depth, or takes a honeytoken; feedback rewards in [0, 1] replace it"
)


def log_reports(service: CamouflageService, reports: Sequence[ReconReport]) -> dict[str, Any]:
    """POST /v1/camouflage/log: record sensor reports like decoy requests."""
    sessions: dict[str, None] = {}
    now = service.clock()
    for r in reports:
        live = r.session_id if r.session_id and service.tracker.get(r.session_id) else None
        session_id = service.recorder.record(
            at=r.time.timestamp() if r.time is not None else now,
            decoy=r.decoy,
            template=r.template,
            source_ip=r.source_ip,
            source_port=r.source_port,
            method=r.method,
            target=r.target or r.path + ("?" + r.query if r.query else ""),
            path=r.path,
            query=r.query,
            http_version=r.http_version,
            headers=tuple((n, v) for n, v in r.headers),
            headers_truncated=False,
            body=r.body.encode("utf-8", "surrogateescape"),
            body_length=r.body_length if r.body_length is not None else len(r.body),
            status=r.status,
            bytes_sent=r.bytes_sent,
            malformed=r.malformed,
            reason="",
            via="sensor",
            session_id=live,
        )
        sessions[session_id] = None
    return {"accepted": len(reports), "sessions": list(sessions)}


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
