"""The shadow service's OpenAPI document types every answer, so clients can be generated."""

from __future__ import annotations

from pathlib import Path

from shieldx.testing.openapi import service_openapi, untyped_answers


def test_every_success_answer_names_its_fields(tmp_path: Path) -> None:
    doc = service_openapi("shadow", tmp_path / "data")
    assert untyped_answers(doc) == []
    # The decision route is served by a lean Starlette route; its documentation is typed too.
    decide = doc["paths"]["/shadow/decide"]["post"]["responses"]["200"]
    assert decide["content"]["application/json"]["schema"]["$ref"].endswith("/DecisionOut")


def test_an_untyped_answer_is_found() -> None:
    doc = {
        "paths": {
            "/a": {
                "get": {"responses": {"200": {"content": {"application/json": {"schema": {}}}}}}
            },
            "/b": {"delete": {"responses": {"204": {"description": "gone"}}}},
            "/c": {"post": {"responses": {"201": {"description": "no body documented"}}}},
        }
    }
    assert untyped_answers(doc) == ["GET /a 200", "POST /c 201"]
