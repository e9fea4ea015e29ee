"""Rules that hold for every route of every service, read from the services themselves.

- A read-only role writes nowhere: every mutating route refuses an auditor key (403).
- No string field of any request body takes a control character: NUL in any of them is a
  4xx that names the field.

Routes come from each app's route table and OpenAPI document, so a route or field added
later is covered without editing this file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import ASGIApp

from shieldx.platform import migrations
from shieldx.platform.app import create_app, route_table
from shieldx.platform.context import PlatformContext, build_context
from shieldx.platform.roles import SAFE_METHODS, Role
from shieldx.services import SERVICES
from shieldx.testing.fixtures import settings_for_test
from shieldx.testing.live import LiveServer

# POST routes that only read (a query with a body); each is a deliberate, reviewed exception.
READS = {
    "credits": {("POST", "/credits/audit/verify")},
    "camouflage": {("POST", "/v1/camouflage/template/{name}")},
    "locator": {("POST", "/introspect")},
    "shadow": {("POST", "/ofrep/v1/evaluate/flags"), ("POST", "/ofrep/v1/evaluate/flags/{key}")},
}
SETTINGS = {
    "camouflage": {
        "camouflage": {"decoys": [{"name": "web", "template": "nginx-1.22.1-debian", "port": 0}]}
    }
}


def mutating_routes(app: ASGIApp) -> Iterator[tuple[str, str, bool]]:
    """(method, path template, marked as a read) of every unsafe method of APP's routes."""
    inner: Any = app
    while not isinstance(inner, FastAPI):
        inner = inner.app
    for route in route_table(inner):
        for method in sorted(route.methods - SAFE_METHODS):
            yield method, route.path, route.reads


@pytest.fixture
def served(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[str, LiveServer, PlatformContext]]:
    service: str = request.param
    ctx = build_context(
        settings_for_test(
            tmp_path / "data",
            security={"rate_limit": {"enabled": False}},
            **SETTINGS.get(service, {}),
        )
    )
    migrations.upgrade(ctx.db)
    try:
        app = create_app(ctx, service, SERVICES[service].factory())
        with LiveServer(app) as server:
            yield service, server, ctx
    finally:
        ctx.close()


@pytest.mark.parametrize("served", sorted(SERVICES), indirect=True)
def test_auditor_gets_403_on_every_mutating_route(
    served: tuple[str, LiveServer, PlatformContext],
) -> None:
    service, server, ctx = served
    routes = sorted(set(mutating_routes(server.app)))
    assert any(method == "POST" for method, _, _ in routes)
    assert {(m, p) for m, p, marked in routes if marked} == READS[service]
    keys = [
        ctx.api_keys.create(role=Role.AUDITOR)[1],
        ctx.api_keys.create(role=Role.AUDITOR, tenant="acme")[1],
    ]
    wrong = []
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for method, template, marked in routes:
            if marked:
                continue
            path = re.sub(r"\{[^}]+\}", "x", template)
            for key in keys:
                response = client.request(
                    method,
                    path + "?tenant=acme",
                    json={},
                    headers={"Authorization": f"Bearer {key}"},
                )
                if response.status_code != 403 or "auditor" not in response.text:
                    wrong.append(f"{method} {path}: {response.status_code} {response.text[:120]}")
    assert not wrong, "\n".join(wrong)


NUL = "a\x00b"
# The JSON-schema keys that already restrict a string to a form without control characters.
_SHAPED = ("pattern", "enum", "const", "format")


def _resolve(schema: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = doc["components"]["schemas"][name]
    return schema


def _sample(schema: dict[str, Any], doc: dict[str, Any]) -> Any:
    schema = _resolve(schema, doc)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    return {"integer": 1, "number": 1, "boolean": True, "array": [], "object": {}}.get(
        schema.get("type", "string"), "x"
    )


def nul_values(
    schema: dict[str, Any], doc: dict[str, Any], depth: int = 0
) -> Iterator[tuple[Any, str, bool]]:
    """(a value with NUL in one string, the field's name, whether its schema shapes it)."""
    schema = _resolve(schema, doc)
    if depth > 6:
        return
    for alternative in schema.get("anyOf", []) + schema.get("oneOf", []):
        yield from nul_values(alternative, doc, depth + 1)
    kind = schema.get("type")
    if kind == "string" or (not schema.get("anyOf") and not schema.get("oneOf") and not kind):
        yield NUL, "", any(k in schema for k in _SHAPED)
    elif kind == "array":
        prefix = schema.get("prefixItems")
        if prefix:
            for i, item in enumerate(prefix):
                for value, name, shaped in nul_values(item, doc, depth + 1):
                    row = [_sample(other, doc) for other in prefix]
                    row[i] = value
                    yield row, name, shaped
        elif "items" in schema:
            for value, name, shaped in nul_values(schema["items"], doc, depth + 1):
                yield [value], name, shaped
    elif kind == "object":
        fixed = {
            prop: _sample(sub, doc)
            for prop, sub in schema.get("properties", {}).items()
            if "const" in _resolve(sub, doc) or len(_resolve(sub, doc).get("enum", ())) == 1
        }
        for prop, sub in schema.get("properties", {}).items():
            if prop in fixed:
                continue  # a union's tag: a wrong one is refused before any field is read
            for value, name, shaped in nul_values(sub, doc, depth + 1):
                yield {**fixed, prop: value}, name or prop, shaped
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            yield {**fixed, "k\x00": _sample(extra, doc)}, "", False
            for value, name, shaped in nul_values(extra, doc, depth + 1):
                yield {**fixed, "k": value}, name, shaped


def _refused_naming(response: httpx.Response, name: str, shaped: bool) -> bool:
    """A 422 with an error at the field (about control characters unless its schema shapes
    it), or the 400 of a form-style route that says which control character it found."""
    if response.status_code == 400:
        return "control character" in response.json()["detail"]
    if response.status_code != 422:
        return False
    for error in response.json().get("errors", []):
        at_field = re.search(rf"(^|\.){re.escape(name)}(\[|\.|$)", error["location"])
        if at_field and (
            shaped or "control character" in error["message"] or "address" in error["message"]
        ):
            return True
    return False


def json_bodies(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(method, path template, JSON body schema) of every route that takes a JSON body."""
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                yield method.upper(), path, content["application/json"]["schema"]


@pytest.mark.parametrize("served", sorted(SERVICES), indirect=True)
def test_nul_in_any_string_field_of_any_request_body_is_refused(
    served: tuple[str, LiveServer, PlatformContext],
) -> None:
    _, server, ctx = served
    headers = {"Authorization": f"Bearer {ctx.api_keys.create(role=Role.ADMIN)[1]}"}
    wrong = []
    tried = 0
    with httpx.Client(base_url=server.url, timeout=30, headers=headers) as client:
        doc = client.get("/openapi.json").json()
        for method, template, schema in json_bodies(doc):
            path = re.sub(r"\{[^}]+\}", "x", template) + "?tenant=acme"
            for body, name, shaped in nul_values(schema, doc):
                tried += 1
                response = client.request(method, path, json=body)
                if not _refused_naming(response, name, shaped):
                    wrong.append(
                        f"{method} {template} {name}: {response.status_code} {response.text[:300]}"
                    )
    assert tried > 0
    assert not wrong, f"{len(wrong)} of {tried}:\n" + "\n".join(wrong)
