"""OpenFeature Remote Evaluation Protocol (OFREP v1): pure mapping to and from its documents.

OFREP (github.com/open-feature/protocol, service/openapi.yaml) is what any OpenFeature
SDK's OFREP provider speaks. This module parses an evaluation request, turns a Resolution
into the protocol's success or failure document with its HTTP status, and computes the
bulk answer's ETag; the routes in ofrep_api.py only fetch the flags and send the bytes.

- success (200): {key, value, reason, variant, metadata}; the reason is OpenFeature's
  (including DEFAULT: the OFREP schema lists STATIC, TARGETING_MATCH, SPLIT, DISABLED and
  UNKNOWN, but defers to OpenFeature's reason codes, and SDKs accept every one of them);
- failure: {key, errorCode, errorDetails}: FLAG_NOT_FOUND is a 404, PARSE_ERROR,
  INVALID_CONTEXT, TARGETING_KEY_MISSING and GENERAL a 400. TYPE_MISMATCH is never sent:
  the protocol carries no flag type (ADR-0003), so the provider compares the JSON value
  with the type the application asked for.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson

from shieldx.platform.schemas import control_character
from shieldx.shadow.flags.contexts import ContextError, normalize_context
from shieldx.shadow.flags.domain import Reason, Resolution

PARSE_ERROR: Final = "PARSE_ERROR"
INVALID_CONTEXT: Final = "INVALID_CONTEXT"
FLAG_NOT_FOUND: Final = "FLAG_NOT_FOUND"
GENERAL: Final = "GENERAL"

# The request body as OpenAPI shows it (the routes parse it by hand to answer OFREP errors).
REQUEST_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "context": {
            "type": "object",
            "description": "The evaluation context; `targetingKey` is the default stickiness.",
            "properties": {"targetingKey": {"type": "string"}},
            "additionalProperties": True,
        }
    },
    "additionalProperties": False,
}

_SUCCESS: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["key", "value", "reason", "variant", "metadata"],
    "properties": {
        "key": {"type": "string"},
        "value": {"description": "The variant's value: boolean, string, number or object"},
        "reason": {"type": "string", "enum": [r.value for r in Reason if r is not Reason.ERROR]},
        "variant": {"type": "string"},
        "metadata": {
            "type": "object",
            "additionalProperties": {"type": ["boolean", "string", "number"]},
        },
    },
}
_FAILURE: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["key", "errorCode", "errorDetails"],
    "properties": {
        "key": {"type": "string"},
        "errorCode": {
            "type": "string",
            "enum": [
                PARSE_ERROR,
                INVALID_CONTEXT,
                "TARGETING_KEY_MISSING",
                GENERAL,
                FLAG_NOT_FOUND,
            ],
        },
        "errorDetails": {"type": "string"},
    },
}
_BULK_FAILURE: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["errorCode", "errorDetails"],
    "properties": {
        "errorCode": {"type": "string", "enum": [PARSE_ERROR, INVALID_CONTEXT]},
        "errorDetails": {"type": "string"},
    },
}
_PROBLEM = "application/problem+json"
# A request the platform refuses before OFREP reads it (e.g. a control character in ?tenant=).
_PLAIN_PROBLEM: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {"type": {"type": "string"}, "detail": {"type": "string"}},
}
# The answers as OpenAPI shows them (failures are problem documents with OFREP's fields).
SINGLE_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    200: {"content": {"application/json": {"schema": _SUCCESS}}},
    400: {
        "description": "PARSE_ERROR, INVALID_CONTEXT, TARGETING_KEY_MISSING or GENERAL",
        "content": {_PROBLEM: {"schema": {"anyOf": [_FAILURE, _PLAIN_PROBLEM]}}},
    },
    404: {"description": "FLAG_NOT_FOUND", "content": {_PROBLEM: {"schema": _FAILURE}}},
}
BULK_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    200: {
        "description": "Every flag of the tenant, by key; the ETag header names the answer",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["flags"],
                    "properties": {
                        "flags": {"type": "array", "items": {"anyOf": [_SUCCESS, _FAILURE]}}
                    },
                }
            }
        },
    },
    304: {"description": "The answer has not changed since the ETag in If-None-Match"},
    400: {
        "description": "PARSE_ERROR or INVALID_CONTEXT",
        "content": {_PROBLEM: {"schema": {"anyOf": [_BULK_FAILURE, _PLAIN_PROBLEM]}}},
    },
}


class OfrepError(Exception):
    """A request OFREP refuses: its status, OpenFeature error code and a readable detail."""

    def __init__(self, status: int, code: str, details: str) -> None:
        super().__init__(details)
        self.status = status
        self.code = code
        self.details = details


def parse_request(body: bytes) -> dict[str, object]:
    """The validated context of an evaluation request body; raise OfrepError when it is bad.

    An empty body or one without "context" is an empty context (the OFREP provider sends
    `{}` when the application gave none).
    """
    if not body.strip():
        return {}
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise OfrepError(400, PARSE_ERROR, f"the request body is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise OfrepError(400, PARSE_ERROR, 'the request body must be an object: {"context": {…}}')
    unknown = sorted(set(doc) - {"context"})
    if unknown:
        raise OfrepError(
            400,
            PARSE_ERROR,
            f'unknown field {unknown[0]!r}: the request body takes only "context"',
        )
    context = doc.get("context", {})
    if not isinstance(context, dict):
        raise OfrepError(400, INVALID_CONTEXT, "context must be an object")
    target = context.get("targetingKey")
    if target is not None and not isinstance(target, str):
        raise OfrepError(400, INVALID_CONTEXT, "context.targetingKey must be a string")
    try:
        checked = normalize_context(context)
    except ContextError as exc:
        raise OfrepError(400, INVALID_CONTEXT, str(exc)) from None
    bad = _control_characters(checked, "context")
    if bad is not None:
        raise OfrepError(400, INVALID_CONTEXT, bad)
    return checked


def _control_characters(value: object, path: str) -> str | None:
    if isinstance(value, str):
        found = control_character(value)
        return None if found is None else f"{path} must not contain control characters: {found}"
    if isinstance(value, list):
        for i, item in enumerate(value):
            bad = _control_characters(item, f"{path}[{i}]")
            if bad is not None:
                return bad
    elif isinstance(value, Mapping):
        for name, item in value.items():
            found = control_character(name)
            if found is not None:
                return f"{path} has a key with control characters: {found}"
            bad = _control_characters(item, f"{path}.{name}")
            if bad is not None:
                return bad
    return None


def evaluation_doc(
    key: str, resolution: Resolution, metadata: Mapping[str, object]
) -> tuple[int, dict[str, Any]]:
    """The OFREP answer to one evaluation: (200, success) or (400, failure)."""
    if resolution.reason is Reason.ERROR:
        code = resolution.error_code.value if resolution.error_code is not None else GENERAL
        return 400, failure_doc(key, code, resolution.error_message or code)
    return 200, {
        "key": key,
        "value": resolution.value,
        "reason": resolution.reason.value,
        "variant": resolution.variant,
        "metadata": dict(metadata),
    }


def failure_doc(key: str, code: str, details: str) -> dict[str, Any]:
    """An evaluationFailure (or flagNotFound) document."""
    return {"key": key, "errorCode": code, "errorDetails": details}


def not_found_details(key: str) -> str:
    """The errorDetails of a FLAG_NOT_FOUND."""
    return f"no flag {key!r} in this tenant; create it with POST /shadow/flags"


def bulk_doc(
    evaluations: Sequence[tuple[str, Resolution, Mapping[str, object]]],
) -> dict[str, Any]:
    """A bulkEvaluationSuccess: every flag's success or failure document, by key."""
    return {
        "flags": [
            evaluation_doc(key, resolution, metadata)[1]
            for key, resolution, metadata in sorted(evaluations, key=lambda e: e[0])
        ]
    }


def encode(doc: Mapping[str, Any]) -> bytes:
    """The JSON bytes of a document (floats stay floats: 1.0 is sent as 1.0)."""
    return orjson.dumps(doc)


def etag(body: bytes) -> str:
    """A strong ETag of an answer's bytes: it changes exactly when the answer does."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def none_match(if_none_match: str | None, current: str) -> bool:
    """Whether an If-None-Match header matches CURRENT (weak comparison, RFC 9110 13.1.2)."""
    if if_none_match is None:
        return False
    tags = [tag.strip() for tag in if_none_match.split(",")]
    return any(tag == "*" or tag.removeprefix("W/") == current for tag in tags)
