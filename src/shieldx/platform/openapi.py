"""The OpenAPI document says what the platform layer really does: bearer auth and problem+json.

FastAPI documents a JSON 422 of its own shape and nothing else, while every error here leaves
as RFC 9457 problem+json (errors.py) and the middleware can refuse any authenticated route
with 401, 403, 413, 429 or 431. Clients and schema-driven fuzzers (schemathesis) read the
schema, so it must promise exactly that.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from shieldx.platform.errors import PROBLEM_CONTENT_TYPE

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details; `errors` lists each invalid field (422).",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "https://shieldx.dev/problems/<slug>"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "What was wrong and how to fix it."},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["location", "message"],
                "properties": {
                    "location": {"type": "string"},
                    "message": {"type": "string"},
                    "type": {"type": ["string", "null"]},
                },
            },
        },
    },
    "additionalProperties": True,
}
_INVALID = "The request is well-formed but invalid; `errors` names each field at fault."
_ERRORS = {
    "4XX": "A client error: 400 malformed, 401 no or unknown key, 403 role or tenant, "
    "404 not found, 409 conflict, 413 body too large, 415 content type, 429 rate limited.",
    "503": "Shutting down, or a dependency is unavailable: retry (see Retry-After).",
}
_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options", "trace"})


def document_platform(
    app: FastAPI, *, is_public: Callable[[str], bool], bearer_description: str
) -> None:
    """Wrap APP's schema generator: bearer auth (none on public paths) and problem+json errors."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = original()
        components = schema.setdefault("components", {})
        components.setdefault("securitySchemes", {})["apiKey"] = {
            "type": "http",
            "scheme": "bearer",
            "description": bearer_description,
        }
        schemas = components.setdefault("schemas", {})
        schemas["Problem"] = PROBLEM_SCHEMA
        # FastAPI's own 422 shapes: never sent, since errors.py answers with a Problem.
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        schema["security"] = [{"apiKey": []}]
        for path, item in schema.get("paths", {}).items():
            for method, operation in item.items():
                if method in _METHODS:
                    _document_operation(operation, public=is_public(path))
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document_operation(operation: dict[str, Any], *, public: bool) -> None:
    if public:
        operation["security"] = []
    responses = operation.setdefault("responses", {})
    if "422" in responses:  # FastAPI adds it to every operation that takes parameters
        responses["422"] = _problem_response(_INVALID)
    for status, description in _ERRORS.items():
        responses[status] = _problem_response(description)


def _problem_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
