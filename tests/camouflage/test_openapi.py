"""The camouflage service's OpenAPI document types every answer."""

from __future__ import annotations

from pathlib import Path

from shieldx.testing.openapi import service_openapi, untyped_answers


def test_every_success_answer_names_its_fields(tmp_path: Path) -> None:
    assert untyped_answers(service_openapi("camouflage", tmp_path / "data")) == []
