"""HTTP routes of decoy selection: POST /select, POST /feedback, GET /graph, POST /adaptive.

/select, /feedback and /graph answer both at the root and under /v1/camouflage/.
"""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter

from shieldx.camouflage.access import Actor, Camouflage, Reader
from shieldx.camouflage.decoys.previews import rendered
from shieldx.camouflage.runtime import CamouflageService
from shieldx.camouflage.selection.schemas import (
    AdaptiveOut,
    Choice,
    FeedbackOut,
    FeedbackRequest,
    GraphOut,
    SelectContext,
    SelectRequest,
)
from shieldx.camouflage.selection.service import UnknownSession
from shieldx.platform.errors import Problem

router = APIRouter(tags=["bandit"])

_REWARD_TEXT = (
    "Beta posterior on 'engaged': a session is engaged when it reaches any of "
    "camouflage.sessions.engaged_min_requests requests, engaged_min_duration, "
    "engaged_min_maze_depth, or takes a honeytoken; feedback rewards in [0, 1] replace it"
)


def _no_decoys() -> Problem:
    return Problem(
        409,
        "no decoys are configured: add camouflage.decoys to the configuration",
        type="no-decoys",
    )


async def _choose(service: CamouflageService, context: SelectContext) -> dict[str, Any]:
    # The sticky Thompson choice for an attacker.
    if service.selector is None:
        raise _no_decoys()
    choice = await service.selector.select(context.source_ip)
    return {
        "decoy": choice.decoy,
        "template": choice.template,
        "session_id": choice.session_id,
        "reason": choice.reason,
    }


async def select(body: SelectRequest, _: Actor, service: Camouflage) -> dict[str, Any]:
    """POST /select: the sticky Thompson choice for an attacker."""
    return await _choose(service, body.context)


async def feedback(body: FeedbackRequest, _: Actor, service: Camouflage) -> dict[str, Any]:
    """POST /feedback: set one session's reward."""
    if service.selector is None:
        raise _no_decoys()
    live = service.tracker.get(body.session_id)
    try:
        return await service.selector.feedback(
            body.session_id, body.reward, live_decoy=live.decoy if live is not None else None
        )
    except UnknownSession:
        raise Problem(
            404, f"no session {body.session_id!r} on a configured decoy", type="unknown-session"
        ) from None


async def graph(_: Reader, service: Camouflage) -> dict[str, Any]:
    """GET /graph: the bandit's arms."""
    if service.selector is None:
        return {"decoys": [], "reward": _REWARD_TEXT}
    return {"decoys": service.selector.graph(), "reward": _REWARD_TEXT}


async def adaptive(body: SelectRequest, _: Actor, service: Camouflage) -> dict[str, Any]:
    """POST /v1/camouflage/adaptive: select, render the decoy's answer, record the request."""
    context = body.context
    chosen = await _choose(service, context)
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


for _prefix in ("", "/v1/camouflage"):
    router.add_api_route(
        f"{_prefix}/select",
        select,
        methods=["POST"],
        response_model=Choice,
        response_model_exclude_unset=True,
        summary="Choose a decoy",
    )
    router.add_api_route(
        f"{_prefix}/feedback",
        feedback,
        methods=["POST"],
        response_model=FeedbackOut,
        response_model_exclude_unset=True,
        summary="Reward a session",
    )
    router.add_api_route(
        f"{_prefix}/graph",
        graph,
        methods=["GET"],
        response_model=GraphOut,
        response_model_exclude_unset=True,
        summary="Bandit arms",
    )
router.add_api_route(
    "/v1/camouflage/adaptive",
    adaptive,
    methods=["POST"],
    response_model=AdaptiveOut,
    response_model_exclude_unset=True,
    summary="Choose a decoy and render its answer",
)
