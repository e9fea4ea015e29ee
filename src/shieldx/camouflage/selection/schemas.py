"""Request bodies and response documents of the selection routes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shieldx.camouflage.fields import METHOD, SESSION_ID, Body, Headers, Path, SourceIp


class SelectContext(Body):
    """Who is asking for a decoy, and (for /adaptive) what they asked."""

    source_ip: SourceIp
    source_port: int = Field(0, ge=0, le=65535)
    user_agent: str | None = Field(None, max_length=512)
    port: int | None = Field(None, ge=0, le=65535)
    path: Path = "/"
    method: str = Field("GET", pattern=METHOD)
    headers: Headers = Field(default_factory=list)


class SelectRequest(Body):
    """POST /select and POST /v1/camouflage/adaptive."""

    context: SelectContext


class FeedbackRequest(Body):
    """POST /feedback: a session's reward in [0, 1]."""

    session_id: str = Field(pattern=SESSION_ID)
    reward: float = Field(ge=0.0, le=1.0)


# Responses: documents may grow fields this model does not name yet (they are passed through,
# never dropped); the routes leave out the optional fields a document does not hold.
_OPEN = ConfigDict(extra="allow")


class Choice(BaseModel):
    """POST /select: the decoy chosen for an attacker, with its session and why."""

    model_config = _OPEN

    decoy: str
    template: str
    session_id: str
    reason: str


class RenderedOut(BaseModel):
    """The chosen decoy's answer to the request (/adaptive)."""

    model_config = _OPEN

    template: str
    status: int
    reason: str
    headers: list[list[str]]
    body: str
    body_base64: str


class AdaptiveOut(Choice):
    """POST /v1/camouflage/adaptive: the choice and the decoy's rendered answer."""

    response: RenderedOut


class FeedbackOut(BaseModel):
    """POST /feedback: the reward set, and the one it replaced."""

    model_config = _OPEN

    session_id: str
    decoy: str
    reward: float
    replaced: float | None


class PosteriorOut(BaseModel):
    """An arm's Beta posterior."""

    model_config = _OPEN

    distribution: str
    alpha: float
    beta: float
    mean: float


class ArmOut(BaseModel):
    """One decoy as a bandit arm."""

    model_config = _OPEN

    decoy: str
    template: str
    pulls: int
    successes: float
    mean_reward: float
    selections: int
    posterior: PosteriorOut
    probability_best: float


class GraphOut(BaseModel):
    """GET /graph: the bandit's arms and what rewards them."""

    model_config = _OPEN

    decoys: list[ArmOut]
    reward: str
