"""Validation of free-form evaluation contexts (flag targeting) against the CEL size bounds.

Expressions over a `dyn` context are cost-bounded at compile time on the promise that no
string is longer than CelLimits.dyn_string_size and no list or map has more entries than
CelLimits.dyn_collection_size; this module keeps that promise before any evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from shieldx.shadow.cel.types import INT64_MAX, INT64_MIN, CelLimits

MAX_DEPTH: Final = 8
DEFAULT_LIMITS: Final = CelLimits()


class ContextError(ValueError):
    """An evaluation context that is not JSON-like or exceeds the size bounds."""


def normalize_context(
    context: Mapping[str, object], limits: CelLimits = DEFAULT_LIMITS
) -> dict[str, object]:
    """Return a validated copy of a JSON-like context; raise ContextError naming the path."""
    if not isinstance(context, Mapping):
        raise ContextError("the context must be an object")
    checked = _value(context, "context", limits, 0)
    assert isinstance(checked, dict)
    return checked


def _value(value: object, path: str, limits: CelLimits, depth: int) -> object:
    if depth > MAX_DEPTH:
        raise ContextError(f"{path} nests deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise ContextError(f"{path} is outside the 64-bit integer range")
        return value
    if isinstance(value, str):
        if len(value) > limits.dyn_string_size:
            raise ContextError(
                f"{path} is {len(value)} characters long (limit {limits.dyn_string_size})"
            )
        return value
    if isinstance(value, list | tuple):
        _check_count(path, len(value), limits)
        return [_value(item, f"{path}[{i}]", limits, depth + 1) for i, item in enumerate(value)]
    if isinstance(value, Mapping):
        _check_count(path, len(value), limits)
        result: dict[str, object] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ContextError(f"{path} has a key that is not a string: {key!r}")
            if len(key) > limits.dyn_string_size:
                raise ContextError(
                    f"{path} has a key longer than {limits.dyn_string_size} characters"
                )
            result[key] = _value(item, f"{path}.{key}", limits, depth + 1)
        return result
    raise ContextError(f"{path} has unsupported type {type(value).__name__}")


def _check_count(path: str, count: int, limits: CelLimits) -> None:
    if count > limits.dyn_collection_size:
        raise ContextError(f"{path} has {count} entries (limit {limits.dyn_collection_size})")
