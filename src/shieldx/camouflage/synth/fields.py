"""Reading a model file's JSON strictly: every field checked, every error names its path."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


class ModelError(ValueError):
    """A model file that cannot be used; the message names the field and what was expected."""


class Fields:
    """One JSON object of a model file, read field by field with its path for messages."""

    def __init__(self, value: object, path: str, *, allowed: tuple[str, ...] = ()) -> None:
        if not isinstance(value, Mapping):
            raise ModelError(f"{path} must be an object (got {type(value).__name__})")
        self.value: Mapping[str, Any] = value
        self.path = path
        if allowed:
            extra = sorted(set(value) - set(allowed))
            if extra:
                raise ModelError(f"{path} has unknown field(s) {', '.join(map(repr, extra))}")

    def where(self, key: str) -> str:
        """The path of a field, for messages."""
        return f"{self.path}.{key}"

    def raw(self, key: str) -> Any:
        """A field that must be present, as it is."""
        if key not in self.value:
            raise ModelError(f"{self.where(key)} is missing")
        return self.value[key]

    def text(self, key: str, *, max_length: int = 10_000) -> str:
        """A string field."""
        value = self.raw(key)
        if not isinstance(value, str) or len(value) > max_length:
            raise ModelError(f"{self.where(key)} must be a string of at most {max_length} chars")
        return value

    def integer(self, key: str, *, low: int = 0, high: int = 2**62) -> int:
        """An integer field within [low, high]."""
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ModelError(
                f"{self.where(key)} must be an integer in [{low}, {high}] (got {value!r})"
            )
        return value

    def number(self, key: str, *, low: float = -math.inf, high: float = math.inf) -> float:
        """A finite number within [low, high]."""
        return number(self.raw(key), self.where(key), low=low, high=high)

    def items(self, key: str, *, max_items: int, min_items: int = 0) -> list[Any]:
        """A list field with a bounded length."""
        value = self.raw(key)
        if not isinstance(value, list) or not min_items <= len(value) <= max_items:
            raise ModelError(
                f"{self.where(key)} must be a list of {min_items} to {max_items} items"
            )
        return value

    def numbers(
        self, key: str, *, max_items: int, min_items: int = 1, low: float = -math.inf
    ) -> list[float]:
        """A list of finite numbers."""
        where = self.where(key)
        return [
            number(item, f"{where}[{i}]", low=low)
            for i, item in enumerate(self.items(key, max_items=max_items, min_items=min_items))
        ]

    def weights(self, key: str, *, max_items: int, count: int | None = None) -> list[float]:
        """Non-negative numbers with a positive sum (and `count` of them, if given)."""
        values = self.numbers(key, max_items=max_items, low=0.0)
        if count is not None and len(values) != count:
            raise ModelError(f"{self.where(key)} must have {count} items (got {len(values)})")
        if math.fsum(values) <= 0:
            raise ModelError(f"{self.where(key)} must have a positive sum")
        return values


def number(value: object, where: str, *, low: float = -math.inf, high: float = math.inf) -> float:
    """A finite JSON number within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ModelError(f"{where} must be a number (got {value!r})")
    result = float(value)
    if not math.isfinite(result) or not low <= result <= high:
        raise ModelError(f"{where} must be a finite number in [{low:g}, {high:g}] (got {value!r})")
    return result
