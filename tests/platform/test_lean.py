"""Lean JSON POST routes (shieldx.platform.lean) behind the real platform layer, over loopback."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, Field

from shieldx.config import Settings
from shieldx.platform import migrations
from shieldx.platform.app import Component, create_app
from shieldx.platform.auth import Principal
from shieldx.platform.context import PlatformContext, build_context
from shieldx.platform.lean import lean_json_post
from shieldx.platform.roles import Role
from shieldx.testing.live import LiveServer

PROBLEM = "application/problem+json"


class Order(BaseModel):
    """A tiny body."""

    item: str = Field(min_length=1, max_length=10, description="What.")
    count: int = Field(gt=0, description="How many.")


async def order(request: Request, body: Order, caller: Principal) -> Response:
    """Echo the validated order and who sent it."""
    return JSONResponse(
        {
            "item": body.item,
            "count": body.count,
            "role": caller.role,
            "route": request.scope["route"].path,
            "note": request.headers.get("x-note"),
        }
    )


NOTE = inspect.Parameter(
    "note",
    inspect.Parameter.KEYWORD_ONLY,
    annotation=Annotated[str | None, Header(alias="X-Note", description="A note.")],
    default=None,
)


def _component(ctx: PlatformContext, registry: CollectorRegistry) -> Component:
    router = APIRouter(prefix="/shop")
    lean_json_post(
        router,
        "/orders",
        order,
        model=Order,
        roles=(Role.ADMIN, Role.OPERATOR),
        documented=[NOTE],
        status_code=200,
        summary="Place an order",
    )
    return Component(routers=[router])


@pytest.fixture
def live(make_settings: Callable[..., Settings]) -> Iterator[tuple[LiveServer, PlatformContext]]:
    ctx = build_context(make_settings())
    migrations.upgrade(ctx.db)
    try:
        with LiveServer(create_app(ctx, "credits", _component)) as server:
            yield server, ctx
    finally:
        ctx.close()


def _key(ctx: PlatformContext, role: Role = Role.ADMIN) -> dict[str, str]:
    _, key = ctx.api_keys.create(role=role, tenant=None)
    return {"Authorization": f"Bearer {key}"}


def _problem(resp: httpx.Response, status: int, slug: str) -> dict[str, object]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == PROBLEM
    body = resp.json()
    assert body["type"].endswith("/" + slug)
    return body  # type: ignore[no-any-return]


def test_the_lean_route_serves_a_valid_body_and_labels_the_route(
    live: tuple[LiveServer, PlatformContext],
) -> None:
    server, ctx = live
    url = server.url + "/shop/orders"
    resp = httpx.post(url, json={"item": "tea", "count": 2}, headers={**_key(ctx), "X-Note": "n"})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {
        "item": "tea", "count": 2, "role": "admin", "route": "/shop/orders", "note": "n",
    }  # fmt: skip
    # No Content-Type at all counts as JSON.
    bare = httpx.post(
        url, content=b'{"item": "tea", "count": 1}', headers={**_key(ctx, Role.OPERATOR)}
    )
    assert bare.status_code == 200, bare.text
    assert bare.json()["role"] == "operator"


def test_the_lean_route_refuses_like_a_fastapi_route(
    live: tuple[LiveServer, PlatformContext],
) -> None:
    server, ctx = live
    url = server.url + "/shop/orders"
    _problem(httpx.post(url, json={"item": "tea", "count": 1}), 401, "unauthenticated")
    _problem(
        httpx.post(url, json={"item": "tea", "count": 1}, headers=_key(ctx, Role.SERVICE)),
        403,
        "forbidden",
    )
    wrong_type = httpx.post(
        url, content=b"item=tea", headers={**_key(ctx), "Content-Type": "text/plain"}
    )
    assert "text/plain" in str(_problem(wrong_type, 415, "unsupported-media-type")["detail"])
    invalid = _problem(
        httpx.post(url, json={"item": "", "count": 0}, headers=_key(ctx)), 422, "validation-error"
    )
    locations = {e["location"] for e in invalid["errors"]}  # type: ignore[attr-defined]
    assert locations == {"body.item", "body.count"}
    malformed = httpx.post(
        url, content=b'{"item": ', headers={**_key(ctx), "Content-Type": "application/json"}
    )
    _problem(malformed, 400, "malformed-json")


def test_the_twin_documents_the_route_in_openapi(live: tuple[LiveServer, PlatformContext]) -> None:
    server, ctx = live
    schema = httpx.get(server.url + "/openapi.json", headers=_key(ctx)).json()
    operation = schema["paths"]["/shop/orders"]["post"]
    assert operation["summary"] == "Place an order"
    assert operation["description"] == "Echo the validated order and who sent it."
    body_ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body_ref.endswith("/Order")
    assert [p["name"] for p in operation.get("parameters", [])] == ["X-Note"]
