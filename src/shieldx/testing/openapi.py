"""OpenAPI checks for tests: a service's document, and the success answers it leaves untyped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from shieldx.platform import migrations
from shieldx.platform.app import create_app
from shieldx.platform.context import build_context
from shieldx.platform.roles import Role
from shieldx.services import SERVICES
from shieldx.testing.fixtures import settings_for_test
from shieldx.testing.live import LiveServer

# Answers with no body by definition.
_BODILESS = {"204", "304"}


def service_openapi(service: str, data_dir: Path) -> dict[str, Any]:
    """SERVICE's OpenAPI document, fetched from /openapi.json of a live server."""
    ctx = build_context(settings_for_test(data_dir))
    try:
        migrations.upgrade(ctx.db)
        with LiveServer(create_app(ctx, service, SERVICES[service].factory())) as server:
            key = ctx.api_keys.create(role=Role.AUDITOR)[1]
            answer = httpx.get(
                server.url + "/openapi.json",
                headers={"Authorization": f"Bearer {key}"},
                timeout=30,
            )
            answer.raise_for_status()
            doc: dict[str, Any] = answer.json()
        return doc
    finally:
        ctx.db.dispose()


def _typed(schema: Any, components: dict[str, Any]) -> bool:
    if not isinstance(schema, dict):
        return False
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        return _typed(components.get(name), components)
    if schema.get("type") == "array":
        return _typed(schema.get("items"), components)
    if "allOf" in schema or "anyOf" in schema or "oneOf" in schema:
        parts = schema.get("allOf") or schema.get("anyOf") or schema.get("oneOf") or []
        return all(_typed(p, components) for p in parts if p.get("type") != "null")
    return bool(schema.get("properties"))


def untyped_answers(doc: dict[str, Any]) -> list[str]:
    """Every 2xx answer whose body has no schema naming its fields ("METHOD path status")."""
    components = doc.get("components", {}).get("schemas", {})
    found = []
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation.get("responses", {}).items():
                if not status.startswith("2") or status in _BODILESS:
                    continue
                content = answer.get("content") or {}
                schemas = [c.get("schema") for c in content.values()]
                if not schemas or not all(_typed(s, components) for s in schemas):
                    found.append(f"{method.upper()} {path} {status}")
    return found
