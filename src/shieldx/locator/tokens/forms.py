"""OAuth-style request parameters: form-encoded (the RFCs' way) or a JSON object."""

from __future__ import annotations

import urllib.parse

import orjson
from fastapi import Request

from shieldx.platform.errors import Problem
from shieldx.platform.schemas import control_character

FORM = "application/x-www-form-urlencoded"
MAX_FIELDS = 32


async def read_params(request: Request) -> dict[str, str]:
    """The body's parameters; each may appear once and must be a string."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    body = await request.body()
    if media == FORM:
        return _no_controls(_form(body))
    if media == "application/json" or media.endswith("+json"):
        return _no_controls(_json(body))
    raise Problem(
        415,
        f"send the parameters form-encoded ({FORM}) or as a JSON object "
        f"(application/json), not {media or 'an untyped body'!r}",
        type="unsupported-media-type",
    )


def _no_controls(params: dict[str, str]) -> dict[str, str]:
    # The same rule as every JSON request model (shieldx.platform.schemas.RequestModel).
    for name, value in params.items():
        bad = control_character(name) or control_character(value)
        if bad is not None:
            raise Problem(
                400,
                f"parameter {name[:64]!r} contains a control character ({bad}); none is allowed",
                type="invalid-request",
            )
    return params


def _form(body: bytes) -> dict[str, str]:
    try:
        pairs = urllib.parse.parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS
        )
    except (UnicodeDecodeError, ValueError):
        raise Problem(
            400,
            f"the form body is not valid UTF-8 {FORM} of at most {MAX_FIELDS} fields",
            type="invalid-request",
        ) from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise Problem(400, f"parameter {name!r} appears more than once", type="invalid-request")
        params[name] = value
    return params


def _json(body: bytes) -> dict[str, str]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Problem(
            400, f"the request body is not valid JSON: {exc}", type="malformed-json"
        ) from None
    if not isinstance(doc, dict) or len(doc) > MAX_FIELDS:
        raise Problem(
            422,
            f"the JSON body must be an object of at most {MAX_FIELDS} members",
            type="validation-error",
        )
    bad = sorted(name for name, value in doc.items() if not isinstance(value, str))
    if bad:
        raise Problem(422, f"parameters must be strings: {', '.join(bad)}", type="validation-error")
    return doc


def required(params: dict[str, str], name: str) -> str:
    """A parameter that must be present and non-empty (400 otherwise, as RFC 6749 asks)."""
    value = params.get(name)
    if not value:
        raise Problem(
            400,
            f'the {name} parameter is required (form-encoded {name}=… or JSON {{"{name}": …}})',
            type="invalid-request",
        )
    return value
