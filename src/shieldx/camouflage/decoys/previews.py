"""The bundled templates as the management API and CLI show them, and previews of their answers."""

from __future__ import annotations

import base64
import time
from collections.abc import Sequence
from typing import Any

from shieldx.camouflage.decoys.rendering import render
from shieldx.camouflage.decoys.schemas import PreviewRequest
from shieldx.camouflage.decoys.templates import UnknownTemplateError, list_templates
from shieldx.platform.errors import Problem


def templates() -> list[dict[str, str]]:
    """Every bundled template's name, server, version and description."""
    return [
        {
            "name": info.name,
            "server": info.server,
            "version": info.version,
            "description": info.description,
            "dialect": info.dialect,
        }
        for info in list_templates()
    ]


def rendered(template: str, method: str, path: str, headers: Sequence[tuple[str, str]],
             *, server_name: str = "localhost", port: int = 80) -> dict[str, Any]:  # fmt: skip
    """A template's answer as JSON: status, headers in order, body (text and base64)."""
    try:
        response = render(
            template, method, path, headers, now=time.time(), server_name=server_name, port=port
        )
    except UnknownTemplateError as exc:
        raise Problem(404, str(exc.args[0]), type="unknown-template") from None
    return {
        "template": template,
        "status": response.status,
        "reason": response.reason,
        "headers": [list(h) for h in response.headers],
        "body": response.body.decode("utf-8", "replace"),
        "body_base64": base64.b64encode(response.body).decode("ascii"),
    }


def preview(name: str, body: PreviewRequest) -> dict[str, Any]:
    """POST /v1/camouflage/template/{name}."""
    context = body.context
    return rendered(
        name,
        body.method,
        body.path,
        [tuple(h) for h in context.headers],  # type: ignore[misc]
        server_name=context.server_name,
        port=context.port,
    )
