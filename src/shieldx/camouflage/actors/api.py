"""HTTP routes of attacker attribution: the actors, and one actor with sessions and evidence."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from shieldx.camouflage.access import Camouflage, Reader
from shieldx.camouflage.actors import service as actors
from shieldx.camouflage.actors.schemas import (
    ActorDetail,
    ActorIdPath,
    ActorLimit,
    ActorList,
    SessionsConsidered,
)
from shieldx.camouflage.fields import UtcTime

router = APIRouter(prefix="/v1/camouflage", tags=["actors"])


@router.get("/actors", response_model=ActorList, summary="Actors")
async def list_actors(
    _: Reader,
    service: Camouflage,
    since: UtcTime | None = None,
    limit: ActorLimit = 100,
    sessions: SessionsConsidered = 2000,
) -> dict[str, Any]:
    """Sessions grouped into actors, best attribution score first."""
    return await actors.list_actors(
        service,
        since=since.timestamp() if since is not None else None,
        limit=limit,
        sessions=sessions,
    )


@router.get("/actors/{actor_id}", response_model=ActorDetail, summary="An actor")
async def get_actor(
    actor_id: ActorIdPath,
    _: Reader,
    service: Camouflage,
    since: UtcTime | None = None,
    sessions: SessionsConsidered = 2000,
) -> dict[str, Any]:
    """One actor: its sessions, evidence, ATT&CK techniques and honeytokens."""
    return await actors.actor_detail(
        service,
        actor_id,
        since=since.timestamp() if since is not None else None,
        sessions=sessions,
    )
