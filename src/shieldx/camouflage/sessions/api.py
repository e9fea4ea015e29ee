"""HTTP routes of attacker sessions: open one (for a sensor), read one, list them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from shieldx.camouflage.access import Actor, Camouflage, Reader
from shieldx.camouflage.fields import DECOY_NAME, SESSION_ID, UtcTime
from shieldx.camouflage.sessions import service as sessions
from shieldx.camouflage.sessions.schemas import SessionDetail, SessionList, SessionOpen, SessionOut

router = APIRouter(prefix="/v1/camouflage", tags=["sessions"])
SessionIdPath = Annotated[str, Path(pattern=SESSION_ID)]


@router.post(
    "/session",
    status_code=201,
    response_model=SessionOut,
    response_model_exclude_unset=True,
    summary="Open a session",
)
async def open_session(body: SessionOpen, _: Actor, service: Camouflage) -> dict[str, Any]:
    """An external sensor's attacker session."""
    return sessions.open_session(service, body)


@router.get(
    "/session/{session_id}",
    response_model=SessionDetail,
    response_model_exclude_unset=True,
    summary="A session",
)
async def get_session(
    session_id: SessionIdPath,
    _: Reader,
    service: Camouflage,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    """One session: figures, classification, events, honeytokens."""
    return await sessions.session_detail(service, session_id, limit=limit)


@router.get(
    "/sessions", response_model=SessionList, response_model_exclude_unset=True, summary="Sessions"
)
async def list_sessions(
    _: Reader,
    service: Camouflage,
    since: UtcTime | None = None,
    decoy: Annotated[str | None, Query(pattern=DECOY_NAME)] = None,
    attack_type: Annotated[str | None, Query(max_length=32)] = None,
    scanner: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Live and stored sessions, most recent first."""
    return await sessions.list_sessions(
        service,
        since=since.timestamp() if since is not None else None,
        decoy=decoy,
        attack_type=attack_type,
        scanner=scanner,
        limit=limit,
    )
