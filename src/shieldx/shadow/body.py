"""The bases of every shadow request body and response document, and the sticky-key check."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from shieldx.platform.schemas import RequestModel
from shieldx.shadow.settings import check_sticky_key


class Body(RequestModel):
    """Base of every request body: unknown keys and control characters in strings are refused."""

    # allow_inf_nan: JSON has no Infinity, but 1e309 parses to it; no field means that.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Answer(BaseModel):
    """Base of every response document: the OpenAPI names each field it holds.

    A key the model does not declare is refused (a 500 in tests) rather than published
    undocumented: a field added to a document must be added to its model.
    """

    model_config = ConfigDict(extra="forbid")


def check_optional_sticky_key(value: str | None) -> str | None:
    """A body's sticky_key checked as the settings' is; None (use the default) passes."""
    return None if value is None else check_sticky_key(value)
