"""The shared HTTP layer over real loopback HTTP: auth, errors, limits, headers, keys API."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from functools import partial
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, Field

from shieldx.config import Settings
from shieldx.platform import migrations
from shieldx.platform.app import Caller, Component, combine, create_app, provided, requires
from shieldx.platform.auth import Principal
from shieldx.platform.context import PlatformContext, build_context
from shieldx.platform.roles import Role
from shieldx.testing.live import LiveServer

PROBLEM = "application/problem+json"


class Echo(BaseModel):
    name: str = Field(min_length=1, max_length=10)
    amount: int = Field(gt=0)


def _component(ctx: PlatformContext, registry: CollectorRegistry) -> Component:
    router = APIRouter()

    @router.post("/echo")
    async def echo(body: Echo, caller: Caller) -> dict[str, object]:
        return {"name": body.name, "amount": body.amount, "tenant": caller.tenant}

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internal detail")

    @router.get("/tenants/{tenant}")
    async def tenant(tenant: str, caller: Caller) -> dict[str, str]:
        return {"tenant": caller.tenant_for(tenant)}

    @router.get("/operators")
    async def operators(
        _: Annotated[Principal, Depends(requires(Role.OPERATOR, Role.ADMIN))],
    ) -> dict[str, bool]:
        return {"ok": True}

    return Component(routers=[router])


@pytest.fixture
def server_for(
    make_settings: Callable[..., Settings],
) -> Iterator[Callable[..., tuple[LiveServer, PlatformContext]]]:
    started: list[tuple[LiveServer, PlatformContext]] = []

    def start(**overrides: object) -> tuple[LiveServer, PlatformContext]:
        ctx = build_context(make_settings(**overrides))
        migrations.upgrade(ctx.db)
        live = LiveServer(create_app(ctx, "credits", _component)).__enter__()
        started.append((live, ctx))
        return live, ctx

    yield start
    for live, ctx in started:
        live.__exit__(None, None, None)
        ctx.close()


@pytest.fixture
def live(
    server_for: Callable[..., tuple[LiveServer, PlatformContext]],
) -> tuple[LiveServer, PlatformContext]:
    return server_for()


def _key(
    ctx: PlatformContext, role: Role = Role.ADMIN, tenant: str | None = None
) -> dict[str, str]:
    _, key = ctx.api_keys.create(role=role, tenant=tenant)
    return {"Authorization": f"Bearer {key}"}


def _assert_problem(
    resp: httpx.Response, status: int, slug: str | None = None
) -> dict[str, object]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == PROBLEM
    body = resp.json()
    assert isinstance(body, dict)
    assert body["status"] == status
    assert body["title"] and body["detail"] and body["instance"]
    if slug:
        assert body["type"].endswith("/" + slug)
    assert "Traceback" not in resp.text
    return body


def test_health_is_public_and_names_the_service(live: tuple[LiveServer, PlatformContext]) -> None:
    server, _ = live
    for path in ("/health", "/healthz"):
        resp = httpx.get(server.url + path)
        assert resp.status_code == 200
        assert resp.json() == {"status": "ok", "service": "credits"}


def test_ready_reports_database_and_migrations(live: tuple[LiveServer, PlatformContext]) -> None:
    server, ctx = live
    assert httpx.get(server.url + "/ready").json()["status"] == "ready"
    migrations.downgrade(ctx.db, "base")
    body = _assert_problem(httpx.get(server.url + "/ready"), 503, "not-ready")
    assert "shieldx db upgrade" in str(body["detail"])


def test_ready_asks_the_components_readiness_checks(
    make_settings: Callable[..., Settings],
) -> None:
    why: list[str] = []

    def component(ctx: PlatformContext, registry: CollectorRegistry) -> Component:
        return Component(readiness=[lambda: why[-1] if why else None])

    ctx = build_context(make_settings())
    migrations.upgrade(ctx.db)
    try:
        with LiveServer(create_app(ctx, "credits", component)) as server:
            assert httpx.get(server.url + "/ready").status_code == 200
            why.append("the writer is restarting")
            body = _assert_problem(httpx.get(server.url + "/ready"), 503, "not-ready")
            assert body["detail"] == "the writer is restarting"
            why.clear()
            assert httpx.get(server.url + "/ready").status_code == 200
    finally:
        ctx.close()


def test_routes_need_a_key_by_default(live: tuple[LiveServer, PlatformContext]) -> None:
    server, _ = live
    for path in ("/whoami", "/echo", "/no-such-route", "/openapi.json"):
        resp = httpx.get(server.url + path)
        body = _assert_problem(resp, 401, "unauthenticated")
        assert resp.headers["www-authenticate"].startswith("Bearer")
        assert body["instance"] == path


@pytest.mark.parametrize(
    "header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer a b", "Token abc", "Bearer " + "x" * 600]
)
def test_malformed_authorization_is_401(
    live: tuple[LiveServer, PlatformContext], header: str
) -> None:
    server, _ = live
    body = _assert_problem(
        httpx.get(server.url + "/whoami", headers={"Authorization": header}), 401
    )
    assert "Bearer" in str(body["detail"])


def test_valid_key_reaches_the_route(live: tuple[LiveServer, PlatformContext]) -> None:
    server, ctx = live
    resp = httpx.get(server.url + "/whoami", headers=_key(ctx, Role.SERVICE, "acme"))
    assert resp.status_code == 200
    assert resp.json()["role"] == "service"
    assert resp.json()["tenant"] == "acme"


def test_unknown_and_revoked_keys_are_refused(live: tuple[LiveServer, PlatformContext]) -> None:
    server, ctx = live
    _assert_problem(
        httpx.get(
            server.url + "/whoami", headers={"Authorization": "Bearer shx_000000000000_" + "a" * 43}
        ),
        401,
    )
    admin = _key(ctx)
    record, key = ctx.api_keys.create(role=Role.SERVICE)
    headers = {"Authorization": f"Bearer {key}"}
    assert httpx.get(server.url + "/whoami", headers=headers).status_code == 200
    assert httpx.delete(server.url + f"/admin/keys/{record.id}", headers=admin).status_code == 204
    _assert_problem(httpx.get(server.url + "/whoami", headers=headers), 401)


def test_request_id_is_echoed_or_generated(live: tuple[LiveServer, PlatformContext]) -> None:
    server, _ = live
    resp = httpx.get(server.url + "/health", headers={"X-Request-ID": "abc-123"})
    assert resp.headers["x-request-id"] == "abc-123"
    bad = httpx.get(server.url + "/health", headers={"X-Request-ID": "bad id <script>"})
    assert bad.headers["x-request-id"] != "bad id <script>"
    assert len(bad.headers["x-request-id"]) == 32


def test_security_headers_on_every_response(live: tuple[LiveServer, PlatformContext]) -> None:
    server, _ = live
    for resp in (httpx.get(server.url + "/health"), httpx.get(server.url + "/whoami")):
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert resp.headers["x-frame-options"] == "DENY"
        assert resp.headers["cache-control"] == "no-store"
        assert "default-src 'none'" in resp.headers["content-security-policy"]
        assert "server" not in resp.headers


def test_validation_error_is_422_with_each_field(live: tuple[LiveServer, PlatformContext]) -> None:
    server, ctx = live
    resp = httpx.post(server.url + "/echo", json={"name": "", "amount": -1}, headers=_key(ctx))
    body = _assert_problem(resp, 422, "validation-error")
    locations = {e["location"] for e in body["errors"]}  # type: ignore[attr-defined]
    assert locations == {"body.name", "body.amount"}


def test_malformed_json_is_400(live: tuple[LiveServer, PlatformContext]) -> None:
    server, ctx = live
    resp = httpx.post(
        server.url + "/echo",
        content=b'{"name": "a", ',
        headers={**_key(ctx), "Content-Type": "application/json"},
    )
    _assert_problem(resp, 400, "malformed-json")


def test_wrong_content_type_is_415(live: tuple[LiveServer, PlatformContext]) -> None:
    server, ctx = live
    resp = httpx.post(
        server.url + "/echo", content=b"name=a", headers={**_key(ctx), "Content-Type": "text/plain"}
    )
    _assert_problem(resp, 415, "unsupported-media-type")


def test_unknown_route_and_method(live: tuple[LiveServer, PlatformContext]) -> None:
    server, ctx = live
    _assert_problem(httpx.get(server.url + "/nope", headers=_key(ctx)), 404, "not-found")
    _assert_problem(
        httpx.delete(server.url + "/echo", headers=_key(ctx)), 405, "method-not-allowed"
    )


def test_unhandled_error_is_500_problem_without_details(
    live: tuple[LiveServer, PlatformContext],
) -> None:
    server, ctx = live
    body = _assert_problem(
        httpx.get(server.url + "/boom", headers=_key(ctx), timeout=60), 500, "internal-error"
    )
    assert "secret internal detail" not in str(body)


def test_oversized_body_is_413_by_length_and_by_stream(
    server_for: Callable[..., tuple[LiveServer, PlatformContext]],
) -> None:
    server, ctx = server_for(server={"max_body_bytes": 2048})
    headers = {**_key(ctx), "Content-Type": "application/json"}
    big = b'{"name": "' + b"a" * 5000 + b'", "amount": 1}'
    _assert_problem(
        httpx.post(server.url + "/echo", content=big, headers=headers), 413, "body-too-large"
    )

    def chunks() -> Iterator[bytes]:
        yield big[:1000]
        yield big[1000:]

    streamed = httpx.post(server.url + "/echo", content=chunks(), headers=headers)
    _assert_problem(streamed, 413, "body-too-large")


def test_too_many_or_too_large_headers_is_431(live: tuple[LiveServer, PlatformContext]) -> None:
    server, ctx = live
    many = {f"x-h{i}": "v" for i in range(150)}
    _assert_problem(httpx.get(server.url + "/whoami", headers={**_key(ctx), **many}), 431)
    large = {"x-big": "v" * 20_000}
    _assert_problem(httpx.get(server.url + "/whoami", headers={**_key(ctx), **large}), 431)


def test_rate_limit_answers_429_with_retry_after(
    server_for: Callable[..., tuple[LiveServer, PlatformContext]],
) -> None:
    server, ctx = server_for(security={"rate_limit": {"key_rate": 0.5, "key_burst": 3}})
    headers = _key(ctx)
    with httpx.Client(base_url=server.url, headers=headers) as client:
        statuses = [client.get("/whoami").status_code for _ in range(5)]
        assert statuses[:3] == [200, 200, 200]
        assert statuses[3:] == [429, 429]
        resp = client.get("/whoami")
    _assert_problem(resp, 429, "rate-limited")
    assert int(resp.headers["retry-after"]) >= 1


def test_tenant_rate_limit_spans_the_tenants_keys(
    server_for: Callable[..., tuple[LiveServer, PlatformContext]],
) -> None:
    server, ctx = server_for(security={"rate_limit": {"tenant_rate": 0.5, "tenant_burst": 2}})
    first, second = _key(ctx, Role.SERVICE, "acme"), _key(ctx, Role.SERVICE, "acme")
    assert httpx.get(server.url + "/whoami", headers=first).status_code == 200
    assert httpx.get(server.url + "/whoami", headers=second).status_code == 200
    _assert_problem(httpx.get(server.url + "/whoami", headers=first), 429)
    other = _key(ctx, Role.SERVICE, "globex")
    assert httpx.get(server.url + "/whoami", headers=other).status_code == 200


def test_a_key_refused_by_its_own_limit_spends_nothing_of_its_tenant(
    server_for: Callable[..., tuple[LiveServer, PlatformContext]],
) -> None:
    limits = {"key_rate": 0.01, "key_burst": 3, "tenant_rate": 0.01, "tenant_burst": 6}
    server, ctx = server_for(security={"rate_limit": limits})
    noisy, quiet = _key(ctx, Role.SERVICE, "acme"), _key(ctx, Role.SERVICE, "acme")
    with httpx.Client(base_url=server.url) as client:
        statuses = [client.get("/whoami", headers=noisy).status_code for _ in range(20)]
        assert statuses == [200] * 3 + [429] * 17
        # Three of the tenant's six tokens are spent; the 17 refused requests took none.
        assert [client.get("/whoami", headers=quiet).status_code for _ in range(3)] == [200] * 3
        third = _key(ctx, Role.SERVICE, "acme")
        body = _assert_problem(client.get("/whoami", headers=third), 429, "rate-limited")
    assert "tenant" in str(body["detail"])


def test_requests_without_a_valid_key_are_limited_per_client_address(
    server_for: Callable[..., tuple[LiveServer, PlatformContext]],
) -> None:
    server, ctx = server_for(server={"anonymous_rate": 0.01, "anonymous_burst": 3})
    valid = _key(ctx)
    bad = {"Authorization": "Bearer shx_000000000000_" + "a" * 43}
    with httpx.Client(base_url=server.url) as client:
        assert client.get("/whoami", headers=bad).status_code == 401
        assert client.get("/whoami").status_code == 401
        assert client.get("/metrics").status_code == 200
        for attempt in (bad, {}, {"Authorization": "Basic eA=="}):
            refused = client.get("/whoami", headers=attempt)
            body = _assert_problem(refused, 429, "rate-limited")
            assert "client address" in str(body["detail"])
            assert int(refused.headers["retry-after"]) >= 1
        _assert_problem(client.get("/metrics"), 429, "rate-limited")
        # Probes are never limited; a valid key is not an anonymous request.
        assert client.get("/health").status_code == 200
        assert client.get("/whoami", headers=valid).status_code == 200
    other = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=server.url, transport=other) as client:
        assert client.get("/whoami", headers=bad).status_code == 401


def test_roles_are_enforced(live: tuple[LiveServer, PlatformContext]) -> None:
    server, ctx = live
    assert httpx.get(server.url + "/operators", headers=_key(ctx, Role.OPERATOR)).status_code == 200
    body = _assert_problem(
        httpx.get(server.url + "/operators", headers=_key(ctx, Role.AUDITOR)), 403
    )
    assert "auditor" in str(body["detail"])


def test_tenant_scoped_key_cannot_name_another_tenant(
    live: tuple[LiveServer, PlatformContext],
) -> None:
    server, ctx = live
    scoped = _key(ctx, Role.SERVICE, "acme")
    assert httpx.get(server.url + "/tenants/acme", headers=scoped).json() == {"tenant": "acme"}
    _assert_problem(
        httpx.get(server.url + "/tenants/globex", headers=scoped), 403, "tenant-forbidden"
    )
    assert httpx.get(server.url + "/tenants/globex", headers=_key(ctx)).json() == {
        "tenant": "globex"
    }


def test_keys_api_creates_lists_and_revokes(live: tuple[LiveServer, PlatformContext]) -> None:
    server, ctx = live
    admin = _key(ctx)
    created = httpx.post(
        server.url + "/admin/keys",
        json={"role": "auditor", "tenant": "acme", "name": "ci"},
        headers=admin,
    )
    assert created.status_code == 201
    new = created.json()
    assert new["key"].startswith("shx_") and new["tenant"] == "acme"
    auditor = {"Authorization": f"Bearer {new['key']}"}
    listed = httpx.get(server.url + "/admin/keys", headers=auditor).json()
    assert new["id"] in {k["id"] for k in listed}
    assert all("key" not in k and "key_hash" not in k for k in listed)
    _assert_problem(
        httpx.post(server.url + "/admin/keys", json={"role": "admin"}, headers=auditor), 403
    )
    _assert_problem(
        httpx.post(server.url + "/admin/keys", json={"role": "root"}, headers=admin), 422
    )
    assert httpx.delete(server.url + f"/admin/keys/{new['id']}", headers=admin).status_code == 204
    _assert_problem(httpx.delete(server.url + f"/admin/keys/{new['id']}", headers=admin), 404)


def test_metrics_count_requests_by_route_template(live: tuple[LiveServer, PlatformContext]) -> None:
    server, ctx = live
    httpx.get(server.url + "/tenants/acme", headers=_key(ctx))
    httpx.get(server.url + "/whoami")
    text = httpx.get(server.url + "/metrics").text
    assert 'http_requests_total{method="GET",route="/tenants/{tenant}",status="200"} 1.0' in text
    assert 'route="<unmatched>",status="401"' in text
    assert "http_request_duration_seconds_bucket" in text


def test_cors_preflight_when_origins_are_configured(
    server_for: Callable[..., tuple[LiveServer, PlatformContext]],
) -> None:
    server, _ = server_for(server={"cors": {"allow_origins": ["https://console.example"]}})
    resp = httpx.options(
        server.url + "/whoami",
        headers={
            "Origin": "https://console.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "Authorization",
        },
    )
    assert resp.status_code == 200
    assert resp.headers["access-control-allow-origin"] == "https://console.example"
    denied = httpx.options(
        server.url + "/whoami",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in denied.headers


def test_openapi_documents_bearer_auth(live: tuple[LiveServer, PlatformContext]) -> None:
    server, ctx = live
    schema = httpx.get(server.url + "/openapi.json", headers=_key(ctx)).json()
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    assert "/echo" in schema["paths"]


def test_a_tenant_admin_manages_only_its_own_tenants_keys(
    live: tuple[LiveServer, PlatformContext],
) -> None:
    server, ctx = live
    acme_admin = _key(ctx, Role.ADMIN, "acme")
    globex_record, _ = ctx.api_keys.create(role=Role.SERVICE, tenant="globex")
    # No tenant named: the new key is acme's, never an unscoped one.
    minted = httpx.post(server.url + "/admin/keys", json={"role": "admin"}, headers=acme_admin)
    assert minted.status_code == 201 and minted.json()["tenant"] == "acme"
    _assert_problem(
        httpx.post(
            server.url + "/admin/keys",
            json={"role": "service", "tenant": "globex"},
            headers=acme_admin,
        ),
        403,
        "tenant-forbidden",
    )
    listed = httpx.get(server.url + "/admin/keys", headers=acme_admin).json()
    assert listed and {k["tenant"] for k in listed} == {"acme"}
    _assert_problem(
        httpx.delete(server.url + f"/admin/keys/{globex_record.id}", headers=acme_admin), 404
    )
    assert globex_record.id in {r.id for r in ctx.api_keys.list()}  # still active


class _Counter:
    """Something a component provides to its module-level routes."""

    def __init__(self) -> None:
        self.hits = 0


_counter_router = APIRouter()


@_counter_router.get("/count")
async def _count(counter: Annotated[_Counter, Depends(provided(_Counter))]) -> dict[str, int]:
    counter.hits += 1
    return {"hits": counter.hits}


def test_module_level_routes_reach_what_the_component_provides() -> None:
    """provided(T) answers the component's instance of T; a type it lacks is a clear error."""
    counter = _Counter()
    app = FastAPI()
    app.include_router(_counter_router)

    async def get() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return int((await client.get("/count")).json()["hits"])

    app.state.component = Component(provides={_Counter: counter})
    assert [asyncio.run(get()), asyncio.run(get())] == [1, 2]
    assert counter.hits == 2
    app.state.component = Component()
    with pytest.raises(LookupError, match="provides no _Counter"):
        asyncio.run(get())


def test_combined_components_serve_every_route_and_refuse_clashing_provisions() -> None:
    """An engine's component rides on a service's: routes, hooks and readiness all combine."""
    first_router, engine_router = APIRouter(), APIRouter()
    first_router.add_api_route("/a", lambda: {"a": 1})
    engine_router.add_api_route("/b", lambda: {"b": 2})
    started: list[str] = []

    async def hook(name: str) -> None:
        started.append(name)

    first = Component(
        routers=[first_router],
        on_startup=[partial(hook, "first")],
        readiness=[lambda: None],
        provides={int: 1},
    )
    engine = Component(
        routers=[engine_router],
        on_startup=[partial(hook, "engine")],
        readiness=[lambda: "engine down"],
        provides={str: "x"},
    )
    merged = combine(first, engine)
    assert [r.path for router in merged.routers for r in router.routes] == ["/a", "/b"]  # type: ignore[attr-defined]

    async def start_all() -> None:
        for start in merged.on_startup:
            await start()

    asyncio.run(start_all())
    assert started == ["first", "engine"]
    assert [check() for check in merged.readiness] == [None, "engine down"]
    assert merged.provides == {int: 1, str: "x"}
    assert first.provides == {int: 1}  # the inputs are left as they were
    with pytest.raises(ValueError, match="both provide"):
        combine(first, Component(provides={int: 2}))
