"""HTTP routes of the camouflage service: thin shells around management.py.

Decoys are platform-wide infrastructure, not tenant data: attackers belong to no tenant. So
the management API takes unscoped keys only (a tenant-scoped key gets 403) and splits by
role: admin, operator and auditor read; admin, operator and service keys act (select,
feedback, sensor reports).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from prometheus_client import CollectorRegistry

from shieldx.camouflage import management as ops
from shieldx.camouflage.metrics import CamouflageMetrics
from shieldx.camouflage.schemas import (
    DECOY_NAME,
    SESSION_ID,
    FeedbackRequest,
    LogRequest,
    PreviewRequest,
    SelectRequest,
    SessionOpen,
    UtcTime,
)
from shieldx.camouflage.service import CamouflageService
from shieldx.platform.app import Component, current_principal, reads
from shieldx.platform.auth import Principal, require_role
from shieldx.platform.context import PlatformContext
from shieldx.platform.errors import Problem
from shieldx.platform.roles import Role

READERS = (Role.ADMIN, Role.OPERATOR, Role.AUDITOR)
ACTORS = (Role.ADMIN, Role.OPERATOR, Role.SERVICE)
EVERYONE = (Role.ADMIN, Role.OPERATOR, Role.AUDITOR, Role.SERVICE)


def platform_wide(*roles: Role) -> Any:
    """A dependency admitting unscoped keys with one of ROLES."""

    async def dependency(
        principal: Annotated[Principal, Depends(current_principal)],
    ) -> Principal:
        require_role(principal, roles)
        if principal.tenant is not None:
            raise Problem(
                403,
                "camouflage is platform-wide infrastructure: use a key that is not scoped "
                f"to a tenant (this one is scoped to {principal.tenant!r})",
                type="tenant-forbidden",
            )
        return principal

    return Depends(dependency)


Reader = Annotated[Principal, platform_wide(*READERS)]
Actor = Annotated[Principal, platform_wide(*ACTORS)]
Anyone = Annotated[Principal, platform_wide(*EVERYONE)]
SessionIdPath = Annotated[str, Path(pattern=SESSION_ID)]


def bandit_router(service: CamouflageService) -> APIRouter:
    """POST /select, POST /feedback, GET /graph (also under /v1/camouflage/)."""
    router = APIRouter(tags=["bandit"])

    async def select(body: SelectRequest, _: Actor) -> dict[str, Any]:
        return await ops.select(service, body.context)

    async def feedback(body: FeedbackRequest, _: Actor) -> dict[str, Any]:
        return await ops.feedback(service, body.session_id, body.reward)

    async def graph(_: Reader) -> dict[str, Any]:
        return ops.graph(service)

    async def adaptive(body: SelectRequest, _: Actor) -> dict[str, Any]:
        return await ops.adaptive(service, body.context)

    for prefix in ("", "/v1/camouflage"):
        router.add_api_route(f"{prefix}/select", select, methods=["POST"], summary="Choose a decoy")
        router.add_api_route(
            f"{prefix}/feedback", feedback, methods=["POST"], summary="Reward a session"
        )
        router.add_api_route(f"{prefix}/graph", graph, methods=["GET"], summary="Bandit arms")
    router.add_api_route(
        "/v1/camouflage/adaptive",
        adaptive,
        methods=["POST"],
        summary="Choose a decoy and render its answer",
    )
    return router


def templates_router() -> APIRouter:
    """The bundled templates and previews of their answers."""
    router = APIRouter(prefix="/v1/camouflage", tags=["templates"])

    async def list_all(_: Anyone) -> list[dict[str, str]]:
        return ops.templates()

    @reads
    async def preview(
        name: Annotated[str, Path(max_length=64)], body: PreviewRequest, _: Anyone
    ) -> dict[str, Any]:
        return ops.preview(name, body)

    router.add_api_route("/templates", list_all, methods=["GET"], summary="Bundled templates")
    router.add_api_route(
        "/template/{name}", preview, methods=["POST"], summary="Preview a template's answer"
    )
    return router


def sessions_router(service: CamouflageService) -> APIRouter:
    """Sessions, sensor reports and the running decoys."""
    router = APIRouter(prefix="/v1/camouflage", tags=["sessions"])
    batch_max = service.settings.recording.log_batch_max

    async def open_session(body: SessionOpen, _: Actor) -> dict[str, Any]:
        return ops.open_session(service, body)

    async def get_session(
        session_id: SessionIdPath,
        _: Reader,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> dict[str, Any]:
        return await ops.session_detail(service, session_id, limit=limit)

    async def list_sessions(
        _: Reader,
        since: UtcTime | None = None,
        decoy: Annotated[str | None, Query(pattern=DECOY_NAME)] = None,
        attack_type: Annotated[str | None, Query(max_length=32)] = None,
        scanner: Annotated[str | None, Query(max_length=32)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        return await ops.list_sessions(
            service,
            since=since.timestamp() if since is not None else None,
            decoy=decoy,
            attack_type=attack_type,
            scanner=scanner,
            limit=limit,
        )

    async def log(body: LogRequest, _: Actor) -> dict[str, Any]:
        if len(body.events) > batch_max:
            raise Problem(
                422,
                f"a batch holds at most {batch_max} events (got {len(body.events)}); "
                "split it (camouflage.recording.log_batch_max)",
                type="batch-too-large",
            )
        return ops.log_reports(service, body.events)

    async def decoys(_: Reader) -> dict[str, Any]:
        return {
            "decoys": [
                {
                    "name": name,
                    "template": service.templates[name],
                    "port": port,
                    "requests": service.decoys[name].stats.requests,
                    "open_connections": service.decoys[name].stats.open_connections,
                }
                for name, port in service.ports.items()
                if name in service.decoys
            ]
        }

    router.add_api_route(
        "/session", open_session, methods=["POST"], status_code=201, summary="Open a session"
    )
    router.add_api_route("/session/{session_id}", get_session, methods=["GET"], summary="A session")
    router.add_api_route("/sessions", list_sessions, methods=["GET"], summary="Sessions")
    router.add_api_route("/log", log, methods=["POST"], summary="Report recon attempts")
    router.add_api_route("/decoys", decoys, methods=["GET"], summary="Running decoys")
    return router


def component(ctx: PlatformContext, registry: CollectorRegistry) -> Component:
    """Build the camouflage service's routes and background work."""
    service = CamouflageService(ctx, CamouflageMetrics(registry))
    return Component(
        routers=[bandit_router(service), templates_router(), sessions_router(service)],
        on_startup=[service.start],
        on_shutdown=[service.stop],
        # A full sensor batch (recording.log_batch_max reports) is the largest body.
        max_body_bytes=ctx.settings.camouflage.recording.api_max_body_bytes,
        description="ShieldX camouflage service: decoys, recon logging, maze, honeytokens",
        extra={"service": service},
    )
