"""Parameter and response shapes of the actor routes."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict

ACTOR_ID: Final = r"^act_[0-9a-f]{16}$"
#: Sessions considered at most per request (the most recent ones).
MAX_SESSIONS: Final = 20_000

ActorIdPath = Annotated[str, Path(pattern=ACTOR_ID)]
ActorLimit = Annotated[int, Query(ge=1, le=1000, description="Actors returned at most.")]
SessionsConsidered = Annotated[
    int,
    Query(
        ge=1,
        le=MAX_SESSIONS,
        description="How many of the most recent stored sessions are grouped.",
    ),
]

# Answers name their fields; more may follow as attribution learns new clues.
_OPEN = ConfigDict(extra="allow")


class EvidenceOut(BaseModel):
    """One typed clue behind an actor, with its weight."""

    model_config = _OPEN

    type: str
    weight: float
    summary: str
    sessions: list[str]
    value: str | None = None


class TechniqueOut(BaseModel):
    """A MITRE ATT&CK technique the actor's behaviour maps to."""

    model_config = _OPEN

    id: str
    name: str
    tactic: str
    reason: str
    sessions: list[str]


class ActorOut(BaseModel):
    """An actor as the list shows it."""

    model_config = _OPEN

    id: str
    score: float
    sessions: list[str]
    addresses: list[str]
    first_seen: str
    last_seen: str
    tools: list[str]
    user_agents: list[str]
    fingerprints: dict[str, list[str]]
    techniques: list[TechniqueOut]
    evidence: list[EvidenceOut]


class ActorList(BaseModel):
    """GET /v1/camouflage/actors."""

    model_config = _OPEN

    actors: list[ActorOut]
    total: int


class ActorDetail(BaseModel):
    """GET /v1/camouflage/actors/{id}: the actor with its sessions and honeytokens."""

    model_config = _OPEN

    id: str
    score: float
    addresses: list[str]
    sessions: list[dict[str, Any]]
    honeytokens: list[dict[str, Any]]
    techniques: list[TechniqueOut]
    evidence: list[EvidenceOut]
