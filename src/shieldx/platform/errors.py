"""RFC 9457 problem details: every 4xx and 5xx leaves as application/problem+json."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

PROBLEM_BASE = "https://shieldx.dev/problems/"
PROBLEM_CONTENT_TYPE = "application/problem+json"
_JSON_TYPES = ("application/json",)

log = structlog.get_logger("shieldx.http")


class Problem(Exception):
    """An error the client can act on; raise it anywhere below a route."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        type: str | None = None,
        title: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type = type
        self.title = title or HTTPStatus(status).phrase
        self.headers = dict(headers or {})
        self.extensions = extensions


def problem_type(slug: str | None) -> str:
    """The full type URI for a problem slug ('about:blank' when there is none)."""
    return PROBLEM_BASE + slug if slug else "about:blank"


def problem_body(
    status: int,
    detail: str,
    *,
    instance: str,
    slug: str | None = None,
    title: str | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> bytes:
    """Serialise a problem document."""
    doc: dict[str, Any] = {
        "type": problem_type(slug),
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    if extensions:
        doc.update(extensions)
    return orjson.dumps(doc)


def problem_response(
    request: Request,
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> Response:
    """Build a problem+json response and record the detail on the request for the access log."""
    state = request.scope.setdefault("state", {})
    state["problem"] = detail
    state["problem_type"] = slug
    body = problem_body(
        status, detail, instance=request.url.path, slug=slug, title=title, extensions=extensions
    )
    return Response(body, status_code=status, media_type=PROBLEM_CONTENT_TYPE, headers=headers)


async def _problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(
        request,
        exc.status,
        exc.detail,
        slug=exc.type,
        title=exc.title,
        headers=exc.headers,
        extensions=exc.extensions,
    )


_HTTP_SLUGS = {
    404: ("not-found", "no route matches {path}"),
    405: ("method-not-allowed", "{method} is not allowed on {path}"),
}


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc.__cause__, Problem):
        # FastAPI wraps errors raised while reading the body (e.g. our 413) in a 400.
        return await _problem(request, exc.__cause__)
    if exc.status_code == 400 and exc.__cause__ is not None:
        # ... and any other failure to parse it in a 400 that does not say what was wrong.
        detail = _unparsable_body(exc.__cause__)
        return problem_response(request, 400, detail, slug="malformed-json")
    slug, template = _HTTP_SLUGS.get(exc.status_code, (None, None))
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if template and detail == HTTPStatus(exc.status_code).phrase:
        detail = template.format(path=request.url.path, method=request.method)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
    return problem_response(request, exc.status_code, detail, slug=slug, headers=headers)


def _unparsable_body(cause: BaseException) -> str:
    if isinstance(cause, RecursionError):
        return "the request body is not valid JSON: it nests too deeply"
    if isinstance(cause, UnicodeDecodeError):
        return f"the request body is not valid UTF-8 (byte {cause.start})"
    if isinstance(cause, ValueError) and "digits" in str(cause):
        return "the request body is not valid JSON: a number has more than 4300 digits"
    return f"the request body could not be parsed ({type(cause).__name__})"


def _allowed_methods(request: Request) -> str:
    # Starlette names only the methods of the first route whose path matched; RFC 9110
    # asks for every method the resource supports (GET and POST /things are two routes).
    methods: set[str] = set()
    for route in request.app.router.routes:
        route_methods = getattr(route, "methods", None)
        if route_methods and route.matches(request.scope)[0] is not Match.NONE:
            methods |= route_methods
    return ", ".join(sorted(methods))


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media in _JSON_TYPES or media.endswith("+json")


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        return parts[0] + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in parts[1:])
    return ".".join(parts)


async def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    body_errors = [e for e in errors if e.get("loc", ("",))[0] == "body"]
    content_type = request.headers.get("content-type", "")
    if any(e.get("type") == "json_invalid" for e in body_errors):
        detail = next(e for e in body_errors if e.get("type") == "json_invalid")
        ctx = detail.get("ctx") or {}
        return problem_response(
            request,
            400,
            f"the request body is not valid JSON: {ctx.get('error', 'syntax error')}",
            slug="malformed-json",
        )
    if body_errors and content_type and not _is_json(content_type):
        return problem_response(
            request,
            415,
            f"expected a JSON body (Content-Type: application/json), got {content_type!r}",
            slug="unsupported-media-type",
        )
    items = [
        {
            "location": _location(tuple(e.get("loc", ()))),
            "message": e.get("msg", ""),
            "type": e.get("type"),
        }
        for e in errors
    ]
    summary = "; ".join(f"{i['location']}: {i['message']}" for i in items[:5])
    return problem_response(
        request, 422, summary, slug="validation-error", extensions={"errors": items}
    )


async def _unhandled(request: Request, exc: Exception) -> Response:
    log.exception("http.unhandled_error", path=request.url.path, error_type=type(exc).__name__)
    return problem_response(
        request,
        500,
        "an internal error occurred; it has been logged with this request's id",
        slug="internal-error",
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Route every error FastAPI or a route can raise through problem+json."""
    app.add_exception_handler(Problem, _problem)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(Exception, _unhandled)
