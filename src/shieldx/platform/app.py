"""create_app(): the shared HTTP layer every service is built on."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Annotated, Any, TypeVar

import anyio.to_thread
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
from prometheus_client import CollectorRegistry
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import compile_path
from starlette.types import ASGIApp, Scope

from shieldx import __version__
from shieldx.platform import migrations
from shieldx.platform.auth import Principal, require_role
from shieldx.platform.context import PlatformContext
from shieldx.platform.errors import Problem, install_problem_handlers
from shieldx.platform.metrics import HttpMetrics, render
from shieldx.platform.mfa import OTP_HEADER, OtpCode
from shieldx.platform.middleware import (
    PUBLIC_PATHS,
    PUBLIC_PREFIXES,
    Limits,
    PlatformMiddleware,
    PlatformState,
    RequestHook,
    security_headers,
)
from shieldx.platform.openapi import document_platform
from shieldx.platform.replication import ReplicationCollector
from shieldx.platform.roles import Role
from shieldx.platform.schemas import (
    KeyCreate,
    KeyCreated,
    KeyInfo,
    MfaCode,
    MfaEnrolled,
    MfaStatus,
    WhoAmI,
)
from shieldx.platform.siem.service import SiemCollector
from shieldx.platform.tracing import Tracing, instrument_engine

T = TypeVar("T")
Hook = Callable[[], Awaitable[None]]
# A readiness check: None when the part it watches can serve, else why not (for /ready).
# Called on every /ready request: it must be cheap and must not block.
ReadinessCheck = Callable[[], str | None]

_Endpoint = TypeVar("_Endpoint", bound=Callable[..., Any])
_READS = "__shieldx_reads__"


def reads(endpoint: _Endpoint) -> _Endpoint:
    """Mark a POST endpoint that changes nothing (a query with a body): read-only roles may call it."""
    setattr(endpoint, _READS, True)
    return endpoint


@dataclass(frozen=True)
class RouteInfo:
    """One route of an app as a client sees it: its methods, path template and endpoint."""

    methods: frozenset[str]
    path: str
    endpoint: Callable[..., Any] | None

    @property
    def reads(self) -> bool:
        """Whether the endpoint is marked as changing nothing (see reads())."""
        return bool(getattr(self.endpoint, _READS, False))


def route_table(app: FastAPI) -> list[RouteInfo]:
    """Every route of APP, included routers flattened, in matching order."""
    return [
        RouteInfo(frozenset(context.methods or ()), context.path, context.endpoint)
        for context in iter_route_contexts(app.router.routes)
        if context.path is not None
    ]


def route_writes(app: FastAPI) -> Callable[[Scope], bool]:
    """Whether a request would run a route that may write (any unsafe method not marked reads)."""
    compiled: list[tuple[re.Pattern[str], RouteInfo]] = []

    def writes(scope: Scope) -> bool:
        if not compiled:  # routes are complete once the app serves; compile on first use
            compiled.extend((compile_path(r.path)[0], r) for r in route_table(app))
        for pattern, route in compiled:
            if scope["method"] in route.methods and pattern.match(scope["path"]):
                return not route.reads
        return False  # no such route: the router answers 404 or 405

    return writes


@dataclass
class Component:
    """What a service plugs into the shared app: routes, background work, its own limits."""

    routers: Sequence[APIRouter] = ()
    on_startup: Sequence[Hook] = ()
    on_shutdown: Sequence[Hook] = ()
    max_body_bytes: int | None = None
    # Extra unauthenticated paths; keep this list short and say why at the call site.
    public_paths: frozenset[str] = frozenset()
    readiness: Sequence[ReadinessCheck] = ()
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # The objects the component's module-level routes need, by type (see provided()).
    provides: dict[type[Any], Any] = field(default_factory=dict)
    # Consulted around every authenticated request, in order (see RequestHook).
    request_hooks: Sequence[RequestHook] = ()


ComponentFactory = Callable[[PlatformContext, CollectorRegistry], Component]


def combine(first: Component, *others: Component) -> Component:
    """One component serving FIRST's routes and work plus each of OTHERS' (engines such as
    chaos and compliance are served on the credits port, as the seed places them)."""
    if not others:
        return first
    merged = Component(
        routers=[*first.routers],
        on_startup=[*first.on_startup],
        on_shutdown=[*first.on_shutdown],
        max_body_bytes=first.max_body_bytes,
        public_paths=first.public_paths,
        readiness=[*first.readiness],
        description=first.description,
        extra=dict(first.extra),
        provides=dict(first.provides),
        request_hooks=[*first.request_hooks],
    )
    for other in others:
        merged.routers = [*merged.routers, *other.routers]
        merged.on_startup = [*merged.on_startup, *other.on_startup]
        # Engines stop before the service they ride on, which started first.
        merged.on_shutdown = [*other.on_shutdown, *merged.on_shutdown]
        merged.public_paths = merged.public_paths | other.public_paths
        merged.readiness = [*merged.readiness, *other.readiness]
        merged.request_hooks = [*merged.request_hooks, *other.request_hooks]
        clash = (merged.provides.keys() & other.provides.keys()) | (
            merged.extra.keys() & other.extra.keys()
        )
        if clash:
            raise ValueError(f"components both provide {sorted(map(str, clash))}")
        merged.extra.update(other.extra)
        merged.provides.update(other.provides)
    return merged


async def current_principal(request: Request) -> Principal:
    """The caller, as authenticated by the platform middleware."""
    principal = request.scope.get("state", {}).get("principal")
    if principal is None:
        raise Problem(401, "this route needs an API key", type="unauthenticated")
    assert isinstance(principal, Principal)
    return principal


Caller = Annotated[Principal, Depends(current_principal)]


def requires(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that admits only callers with one of ROLES."""

    # async: FastAPI runs plain-def dependencies in a thread pool, which costs a thread hop.
    async def dependency(principal: Caller) -> Principal:
        require_role(principal, roles)
        return principal

    return dependency


def requires_second_factor(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """Like requires(), and with `security.admin_mfa` on, a valid unused TOTP code as well.

    For the operations that change who may do what or what is trusted: creating and revoking
    keys, rotating signing keys, chaos runs, a disaster-recovery failover (platform/mfa.py).
    """

    async def dependency(request: Request, principal: Caller, code: OtpCode) -> Principal:
        require_role(principal, roles)
        ctx = context_of(request)
        if not ctx.settings.security.admin_mfa:
            return principal
        if code is None:
            raise Problem(
                403,
                f"security.admin_mfa is on: send the code of your second factor in {OTP_HEADER}",
                type="mfa-required",
            )
        await anyio.to_thread.run_sync(ctx.mfa.verify, principal.key_id, code.strip())
        return principal

    return dependency


def provided_instance(request: Request, kind: type[T]) -> T:
    """The instance of KIND that the serving app's component provides (for lean routes)."""
    try:
        instance = request.app.state.component.provides[kind]
    except KeyError:
        raise LookupError(f"this app's component provides no {kind.__name__}") from None
    assert isinstance(instance, kind)
    return instance


def provided(kind: type[T]) -> Callable[[Request], Awaitable[T]]:
    """A FastAPI dependency answering the instance of KIND the component provides.

    Routes live at module level in each sub-package's api.py; the objects they call are built
    by the service's component.py and reach them through this, not through closures.
    """

    # async: FastAPI runs plain-def dependencies in a thread pool, which costs a thread hop.
    async def dependency(request: Request) -> T:
        return provided_instance(request, kind)

    dependency.__name__ = f"provided_{kind.__name__}"
    return dependency


def context_of(request: Request) -> PlatformContext:
    """The platform context of the app serving REQUEST."""
    ctx = request.app.state.ctx
    assert isinstance(ctx, PlatformContext)
    return ctx


def _platform_router(service: str) -> APIRouter:
    router = APIRouter()

    async def ready(request: Request) -> Response:
        ctx = context_of(request)
        if request.app.state.platform.draining:
            raise Problem(503, "shutting down", type="not-ready")
        for check in request.app.state.component.readiness:
            why = check()
            if why is not None:
                raise Problem(503, why, type="not-ready")
        try:
            await anyio.to_thread.run_sync(ctx.db.ping)
        except Exception as exc:
            raise Problem(
                503, f"database unreachable: {type(exc).__name__}", type="not-ready"
            ) from exc
        current = await anyio.to_thread.run_sync(migrations.current, ctx.db)
        expected = request.app.state.migration_heads
        if current != expected:
            missing = ", ".join(sorted(expected - current)) or "none"
            raise Problem(
                503,
                f"database migrations are not current (pending: {missing}); "
                "run 'shieldx db upgrade'",
                type="not-ready",
            )
        return JSONResponse({"status": "ready", "service": service, "database": ctx.db.backend})

    async def metrics(request: Request) -> Response:
        # On a worker thread: the replication collector asks PostgreSQL at scrape time.
        body, content_type = await anyio.to_thread.run_sync(render, request.app.state.registry)
        return Response(body, media_type=content_type)

    async def whoami(principal: Caller) -> dict[str, Any]:
        return {
            "service": service,
            "key_id": principal.key_id,
            "role": principal.role.value,
            "tenant": principal.tenant,
            "name": principal.name,
        }

    async def create_key(
        body: KeyCreate,
        request: Request,
        caller: Annotated[Principal, Depends(requires_second_factor(Role.ADMIN))],
    ) -> KeyCreated:
        store = context_of(request).api_keys
        # A tenant-scoped admin mints keys of its own tenant only, never an unscoped one.
        tenant = body.tenant if caller.tenant is None else caller.tenant_for(body.tenant)
        record, key = await anyio.to_thread.run_sync(
            lambda: store.create(role=body.role, tenant=tenant, name=body.name)
        )
        return KeyCreated(
            id=record.id, key=key, role=record.role, tenant=record.tenant, name=record.name
        )

    async def list_keys(
        request: Request,
        caller: Annotated[Principal, Depends(requires(Role.ADMIN, Role.AUDITOR))],
        include_revoked: bool = False,
    ) -> list[KeyInfo]:
        store = context_of(request).api_keys
        records = await anyio.to_thread.run_sync(
            lambda: store.list(include_revoked=include_revoked)
        )
        return [KeyInfo(**vars(r)) for r in records if caller.tenant in (None, r.tenant)]

    async def revoke_key(
        key_id: str,
        request: Request,
        caller: Annotated[Principal, Depends(requires_second_factor(Role.ADMIN))],
    ) -> Response:
        ctx = context_of(request)
        revoke = partial(ctx.api_keys.revoke, key_id, tenant=caller.tenant)
        if not await anyio.to_thread.run_sync(revoke):
            raise Problem(404, f"no active key with id {key_id!r}", type="not-found")
        ctx.authenticator.forget()
        return Response(status_code=204)

    async def mfa_enroll(
        request: Request, caller: Annotated[Principal, Depends(requires(Role.ADMIN))]
    ) -> MfaEnrolled:
        store = context_of(request).mfa
        enrolled = await anyio.to_thread.run_sync(store.enroll, caller)
        return MfaEnrolled(key_id=caller.key_id, secret=enrolled.secret, otpauth_uri=enrolled.uri)

    async def mfa_confirm(
        body: MfaCode, request: Request, caller: Annotated[Principal, Depends(requires(Role.ADMIN))]
    ) -> MfaStatus:
        store = context_of(request).mfa
        await anyio.to_thread.run_sync(store.confirm, caller.key_id, body.code)
        return MfaStatus(key_id=caller.key_id, factor="active", required=_mfa_on(request))

    async def mfa_status(
        request: Request, caller: Annotated[Principal, Depends(requires(Role.ADMIN))]
    ) -> MfaStatus:
        factor = await anyio.to_thread.run_sync(context_of(request).mfa.status, caller.key_id)
        return MfaStatus(key_id=caller.key_id, factor=factor, required=_mfa_on(request))

    async def mfa_remove(
        request: Request,
        code: OtpCode,
        caller: Annotated[Principal, Depends(requires(Role.ADMIN))],
    ) -> Response:
        remove = partial(context_of(request).mfa.remove, caller.key_id, (code or "").strip())
        await anyio.to_thread.run_sync(remove)
        return Response(status_code=204)

    router.add_api_route(
        "/admin/mfa/enroll",
        mfa_enroll,
        methods=["POST"],
        status_code=201,
        summary="Enrol a TOTP second factor for the calling admin key (secret shown once)",
    )
    router.add_api_route(
        "/admin/mfa/confirm",
        mfa_confirm,
        methods=["POST"],
        summary="Activate the enrolled factor with its first code",
    )
    router.add_api_route(
        "/admin/mfa", mfa_status, methods=["GET"], summary="The calling key's second factor"
    )
    router.add_api_route(
        "/admin/mfa",
        mfa_remove,
        methods=["DELETE"],
        status_code=204,
        summary=f"Remove the calling key's factor (an active one needs a code in {OTP_HEADER})",
    )
    router.add_api_route(
        "/admin/keys", create_key, methods=["POST"], status_code=201, summary="Create an API key"
    )
    router.add_api_route("/admin/keys", list_keys, methods=["GET"], summary="List API keys")
    router.add_api_route(
        "/admin/keys/{key_id}",
        revoke_key,
        methods=["DELETE"],
        status_code=204,
        summary="Revoke an API key",
    )
    router.add_api_route("/ready", ready, methods=["GET"], include_in_schema=False)
    router.add_api_route("/metrics", metrics, methods=["GET"], include_in_schema=False)
    router.add_api_route(
        "/whoami",
        whoami,
        methods=["GET"],
        # Documented, not validated: /whoami is the HTTP benchmark's authenticated no-op.
        response_model=None,
        responses={200: {"model": WhoAmI, "description": "The caller"}},
        summary="The caller's key id, role and tenant (an authenticated no-op)",
    )
    return router


def _mfa_on(request: Request) -> bool:
    return context_of(request).settings.security.admin_mfa


def create_app(
    ctx: PlatformContext, service: str, factory: ComponentFactory | None = None
) -> ASGIApp:
    """Build SERVICE's ASGI app: its component's routes behind the platform layer."""
    registry = CollectorRegistry(auto_describe=True)
    if ctx.siem is not None:
        registry.register(SiemCollector(ctx.siem))
    registry.register(ReplicationCollector(ctx.db))
    tracing: Tracing | None = None
    if ctx.settings.observability.otlp_endpoint is not None:
        tracing = Tracing(ctx.settings.observability, service=service, version=__version__)
        instrument_engine(ctx.db.engine)
    component = factory(ctx, registry) if factory is not None else Component()
    state = PlatformState(service=service)
    state.security_headers = security_headers(hsts=ctx.settings.server.hsts)
    state.request_hooks = list(component.request_hooks)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await ctx.honeytokens.start()
        if ctx.siem is not None:
            await ctx.siem.start()
        if ctx.bridge is not None:
            await ctx.bridge.start()
        for hook in component.on_startup:
            await hook()
        try:
            yield
        finally:
            state.draining = True
            for hook in reversed(component.on_shutdown):
                await hook()
            await ctx.honeytokens.stop()
            if ctx.siem is not None:
                await ctx.siem.stop()
            if tracing is not None:
                await anyio.to_thread.run_sync(tracing.shutdown)
            if ctx.bridge is not None:
                await ctx.bridge.stop()

    app = FastAPI(
        title=f"ShieldX {service}",
        version=__version__,
        description=component.description,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.state.platform = state
    app.state.registry = registry
    app.state.migration_heads = migrations.heads()
    app.state.component = component
    install_problem_handlers(app)
    app.include_router(_platform_router(service))
    for router in component.routers:
        app.include_router(router)
    public_paths = PUBLIC_PATHS | component.public_paths
    document_platform(
        app,
        is_public=lambda path: path in public_paths or path.startswith(PUBLIC_PREFIXES),
        bearer_description="Authorization: Bearer <API key> (see `shieldx keys create`)",
    )

    settings = ctx.settings
    limits = settings.security.rate_limit
    wrapped: ASGIApp = PlatformMiddleware(
        app,
        state=state,
        limits=Limits(
            max_body_bytes=component.max_body_bytes or settings.server.max_body_bytes,
            max_header_bytes=settings.server.max_header_bytes,
            max_headers=settings.server.max_headers,
        ),
        authenticator=ctx.authenticator,
        key_limiter=ctx.key_limiter if limits.enabled else None,
        tenant_limiter=ctx.tenant_limiter if limits.enabled else None,
        source_limiter=ctx.source_limiter if limits.enabled else None,
        writes=route_writes(app),
        metrics=HttpMetrics(registry),
        log_success=settings.server.access_log,
        public_paths=public_paths,
        public_prefixes=PUBLIC_PREFIXES,
        tracing=tracing,
    )
    cors = settings.server.cors
    if cors.allow_origins:
        # Outside the auth layer: browsers send preflight requests without credentials.
        wrapped = CORSMiddleware(
            wrapped,
            allow_origins=cors.allow_origins,
            allow_methods=cors.allow_methods,
            allow_headers=cors.allow_headers,
            max_age=cors.max_age,
        )
    app.state.asgi = wrapped
    return wrapped


def platform_state(app: ASGIApp) -> PlatformState:
    """The PlatformState of an app built by create_app (to flag draining)."""
    inner: Any = app
    while not isinstance(inner, PlatformMiddleware):
        inner = inner.app
    return inner.state
