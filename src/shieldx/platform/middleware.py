"""The one pure-ASGI layer in front of every service: ids, limits, auth, rate limits, metrics, logs."""

from __future__ import annotations

import itertools
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shieldx.platform.auth import Authenticator, Principal, invalid_key
from shieldx.platform.errors import PROBLEM_CONTENT_TYPE, Problem, problem_body
from shieldx.platform.metrics import UNMATCHED_ROUTE, HttpMetrics
from shieldx.platform.ratelimit import RateLimiter, retry_after_header
from shieldx.platform.roles import READ_ONLY_ROLES, SAFE_METHODS
from shieldx.platform.tracing import Tracing

_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")
HEALTH_PATHS = frozenset({"/health", "/healthz"})
# Unauthenticated by design: probes, scraping and key discovery. Everything else needs a key.
PUBLIC_PATHS = frozenset({"/health", "/healthz", "/ready", "/metrics"})
PUBLIC_PREFIXES = ("/.well-known/",)
_QUIET_PATHS = frozenset({"/health", "/healthz", "/ready", "/metrics"})
# Orchestrators probe these often from one address; they are never rate limited.
_PROBE_PATHS = frozenset({"/health", "/healthz", "/ready"})

access_log = structlog.get_logger("shieldx.access")


@dataclass
class Limits:
    """Sizes an attacker controls, checked before any route runs."""

    max_body_bytes: int
    max_header_bytes: int
    max_headers: int


class RequestHook(Protocol):
    """Consulted around every authenticated request (fault injection, observation).

    `before` may delay the request or answer a Problem instead of running the route;
    `after` sees each request's status and duration. Both must be cheap.
    """

    async def before(self, scope: Scope) -> Problem | None:
        """None to run the route, or the Problem to answer instead."""
        ...

    def after(self, scope: Scope, status: int, seconds: float) -> None:
        """Observe one finished request."""
        ...


@dataclass
class PlatformState:
    """Per-app runtime flags; draining is set when shutdown begins."""

    service: str
    draining: bool = False
    security_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    health_body: bytes = b""
    request_hooks: list[RequestHook] = field(default_factory=list)


def security_headers(*, hsts: bool) -> list[tuple[bytes, bytes]]:
    """Headers every API response carries (a JSON API never needs to be framed or sniffed)."""
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    ]
    if hsts:
        headers.append((b"strict-transport-security", b"max-age=63072000; includeSubDomains"))
    return headers


class PlatformMiddleware:
    """Wraps a service app; see docs/architecture.md for the order of the checks."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        state: PlatformState,
        limits: Limits,
        authenticator: Authenticator,
        key_limiter: RateLimiter | None,
        tenant_limiter: RateLimiter | None,
        metrics: HttpMetrics,
        source_limiter: RateLimiter | None = None,
        writes: Callable[[Scope], bool] = lambda scope: True,
        log_success: bool,
        public_paths: frozenset[str] = PUBLIC_PATHS,
        public_prefixes: tuple[str, ...] = PUBLIC_PREFIXES,
        tracing: Tracing | None = None,
    ) -> None:
        self.tracing = tracing
        self.app = app
        self.state = state
        self.limits = limits
        self.auth = authenticator
        self.key_limiter = key_limiter
        self.tenant_limiter = tenant_limiter
        self.source_limiter = source_limiter
        self.writes = writes
        self.metrics = metrics
        self.log_success = log_success
        self.public_paths = public_paths
        self.public_prefixes = public_prefixes
        state.health_body = orjson.dumps({"status": "ok", "service": state.service})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one HTTP request; lifespan and other scopes pass straight through."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.tracing is not None and scope["path"] not in HEALTH_PATHS:
            await self._traced(self.tracing, scope, receive, send)
            return
        await self._handle(scope, receive, send)

    async def _traced(self, tracing: Tracing, scope: Scope, receive: Receive, send: Send) -> None:
        """The request inside its server span (the probes are not traced)."""
        request_id = _request_id(scope["headers"])
        with tracing.request(scope, request_id) as span:
            outcome = await self._handle(scope, receive, send, request_id=request_id)
            tracing.finish(span, route=outcome.route, method=scope["method"], status=outcome.status)

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, *, request_id: str | None = None
    ) -> _Outcome:
        started = time.perf_counter()
        request_id = request_id or _request_id(scope["headers"])
        structlog.contextvars.bind_contextvars(request_id=request_id)
        outcome = _Outcome(request_id=request_id)
        extra = [(b"x-request-id", request_id.encode()), *self.state.security_headers]

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                outcome.status = message["status"]
                outcome.started = True
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in extra if h[0] not in present)
                if b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                if self.state.draining:
                    headers.append((b"connection", b"close"))
                message["headers"] = headers
            await send(message)

        try:
            problem = self._precheck(scope)
            if problem is None and scope["path"] in HEALTH_PATHS:
                await _send_json(send_wrapper, 200, self.state.health_body, "application/json")
            elif problem is None:
                problem = await self._authenticate(scope, outcome)
            for hook in self.state.request_hooks if problem is None else ():
                problem = await hook.before(scope)
                if problem is not None:
                    break
            if problem is None and not outcome.started:
                await self.app(scope, self._limited_receive(scope, receive), send_wrapper)
            elif problem is not None:
                await self._send_problem(scope, send_wrapper, problem, outcome)
        except Exception:
            if not outcome.started:
                access_log.exception("http.unhandled_error", path=scope["path"])
                await self._send_problem(
                    scope,
                    send_wrapper,
                    Problem(
                        500, "an internal error occurred; it has been logged", type="internal-error"
                    ),
                    outcome,
                )
            # Otherwise the error handler already answered and logged; nothing leaks out.
        finally:
            self._finish(scope, outcome, time.perf_counter() - started)
            structlog.contextvars.unbind_contextvars("request_id")
        return outcome

    def _precheck(self, scope: Scope) -> Problem | None:
        headers = scope["headers"]
        if len(headers) > self.limits.max_headers:
            return Problem(
                431,
                f"too many headers: {len(headers)} (limit {self.limits.max_headers})",
                type="headers-too-large",
            )
        size = sum(len(k) + len(v) for k, v in headers)
        if size > self.limits.max_header_bytes:
            return Problem(
                431,
                f"headers total {size} bytes (limit {self.limits.max_header_bytes})",
                type="headers-too-large",
            )
        if "\x00" in scope["path"] or _has_nul(scope.get("query_string", b"")):
            # No identifier or parameter of ours may hold one, and PostgreSQL cannot store it.
            return Problem(
                400,
                "the URL contains a NUL character (%00), which no parameter may hold",
                type="bad-request",
            )
        if self.state.draining and scope["path"] not in HEALTH_PATHS:
            return Problem(
                503,
                "the service is shutting down; retry against another instance",
                type="shutting-down",
                headers={"Retry-After": "1"},
            )
        length = _header(headers, b"content-length")
        if length is not None:
            if not length.isdigit():
                return Problem(
                    400, "Content-Length must be a non-negative integer", type="bad-request"
                )
            if int(length) > self.limits.max_body_bytes:
                return Problem(
                    413,
                    f"request body of {int(length)} bytes exceeds the limit of "
                    f"{self.limits.max_body_bytes} bytes",
                    type="body-too-large",
                )
        return None

    def _is_public(self, path: str) -> bool:
        return path in self.public_paths or path.startswith(self.public_prefixes)

    async def _authenticate(self, scope: Scope, outcome: _Outcome) -> Problem | None:
        if self._is_public(scope["path"]):
            return None if scope["path"] in _PROBE_PATHS else self._limit_source(scope)
        raw = _header(scope["headers"], b"authorization")
        try:
            key = Authenticator.parse_header(raw.decode("latin-1") if raw is not None else None)
        except Problem as exc:
            return self._limit_source(scope) or exc
        principal = await self.auth.principal_for(key, source=_client(scope))
        if principal is None:
            return self._limit_source(scope) or invalid_key()
        outcome.principal = principal
        scope.setdefault("state", {})["principal"] = principal
        return (await self._rate_limit(principal)) or self._read_only(principal, scope)

    def _read_only(self, principal: Principal, scope: Scope) -> Problem | None:
        # One place for every service: a read-only role never reaches a route that writes,
        # whatever roles that route's own dependency admits.
        if principal.role not in READ_ONLY_ROLES or scope["method"] in SAFE_METHODS:
            return None
        if not self.writes(scope):
            return None
        return Problem(
            403,
            f"role {principal.role.value!r} is read-only and may not {scope['method']} "
            f"{scope['path']}; use an admin, operator or service key",
            type="forbidden",
        )

    async def _rate_limit(self, principal: Principal) -> Problem | None:
        # The tenant's token is taken only once the key's is granted: a key refused by its
        # own limit must not spend the budget its tenant's other keys share.
        # Shared limiters (cluster.redis_url) answer over the network; local ones at once.
        keys = self.key_limiter
        if keys is not None:
            key = principal.key_id
            wait = await keys.acquire(key) if keys.remote else keys.check(key)
            if wait > 0:
                return _rate_limited("key", wait)
        tenants = self.tenant_limiter
        if tenants is not None and principal.tenant is not None:
            tenant = principal.tenant
            wait = await tenants.acquire(tenant) if tenants.remote else tenants.check(tenant)
            if wait > 0:
                return _rate_limited("tenant", wait)
        return None

    def _limit_source(self, scope: Scope) -> Problem | None:
        """Limit requests without a valid key per client address (they have no key to count)."""
        if self.source_limiter is None:
            return None
        wait = self.source_limiter.check(_client(scope))
        return (
            _rate_limited("client address (requests without a valid API key)", wait)
            if wait > 0
            else None
        )

    def _limited_receive(self, scope: Scope, receive: Receive) -> Receive:
        limit = self.limits.max_body_bytes
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise Problem(
                        413,
                        f"request body exceeds the limit of {limit} bytes",
                        type="body-too-large",
                    )
            return message

        return limited

    async def _send_problem(
        self, scope: Scope, send: Send, problem: Problem, outcome: _Outcome
    ) -> None:
        outcome.problem = problem.detail
        outcome.problem_type = problem.type
        body = problem_body(
            problem.status,
            problem.detail,
            instance=scope["path"],
            slug=problem.type,
            title=problem.title,
            extensions=problem.extensions,
        )
        headers = [(k.lower().encode(), v.encode()) for k, v in problem.headers.items()]
        await _send_json(send, problem.status, body, PROBLEM_CONTENT_TYPE, headers)

    def _finish(self, scope: Scope, outcome: _Outcome, elapsed: float) -> None:
        route_obj = scope.get("route")
        path = scope["path"]
        if route_obj is not None:
            route = getattr(route_obj, "path", UNMATCHED_ROUTE)
        elif path in self.public_paths:
            route = path
        else:
            route = UNMATCHED_ROUTE
        outcome.route = route
        status = outcome.status
        self.metrics.observe(route, scope["method"], status, elapsed)
        if status >= 400:
            self.metrics.error(
                self.state.service,
                outcome.problem_type or scope.get("state", {}).get("problem_type"),
            )
        for hook in self.state.request_hooks:
            hook.after(scope, status, elapsed)
        if status < 400 and (not self.log_success or path in _QUIET_PATHS):
            return
        problem = outcome.problem or scope.get("state", {}).get("problem")
        principal = outcome.principal
        fields: dict[str, Any] = {
            "service": self.state.service,
            "method": scope["method"],
            "path": path,
            "route": route,
            "status": status,
            "duration_ms": round(elapsed * 1000, 3),
            "client": _client(scope),
        }
        if principal is not None:
            fields["key_id"] = principal.key_id
            fields["tenant"] = principal.tenant
        if problem:
            fields["problem"] = problem
        if status >= 500:
            access_log.error("http.request", **fields)
        elif status >= 400:
            access_log.warning("http.request", **fields)
        else:
            access_log.info("http.request", **fields)


@dataclass
class _Outcome:
    request_id: str
    status: int = 500
    started: bool = False
    principal: Principal | None = None
    problem: str | None = None
    problem_type: str | None = None
    route: str = UNMATCHED_ROUTE


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""


def _rate_limited(scope_name: str, wait: float) -> Problem:
    return Problem(
        429,
        f"rate limit of this {scope_name} exceeded; retry after {wait:.2f} s",
        type="rate-limited",
        headers={"Retry-After": retry_after_header(wait)},
    )


def _has_nul(query_string: bytes) -> bool:
    return b"%00" in query_string or b"\x00" in query_string


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key == name:  # ASGI servers lower-case header names
            return value
    return None


# Generated ids need to be unique, not secret: a random per-process prefix and a counter
# cost a fraction of uuid4(), which reads the OS's random source on every request.
_ID_PREFIX = secrets.token_hex(8)
_id_counter = itertools.count(1)


def _request_id(headers: list[tuple[bytes, bytes]]) -> str:
    incoming = _header(headers, b"x-request-id")
    if incoming is not None and _REQUEST_ID.match(incoming):
        return incoming.decode("ascii")
    return f"{_ID_PREFIX}{next(_id_counter):016x}"


async def _send_json(
    send: Send,
    status: int,
    body: bytes,
    content_type: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
                *(headers or ()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
