"""Query parameter shapes of the actor routes (responses are plain JSON documents)."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import Path, Query

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
