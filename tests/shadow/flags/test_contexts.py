from __future__ import annotations

import pytest

from shieldx.shadow.cel.types import CelLimits
from shieldx.shadow.flags.contexts import ContextError, normalize_context


def test_a_json_like_context_is_copied() -> None:
    source: dict[str, object] = {
        "user": {"roles": ("a", "b"), "age": 30, "score": 1.5, "vip": True, "note": None}
    }
    copy = normalize_context(source)
    assert copy == {
        "user": {"roles": ["a", "b"], "age": 30, "score": 1.5, "vip": True, "note": None}
    }
    assert copy["user"] is not source["user"]


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"s": "x" * 1025}, "context.s is 1025 characters long (limit 1024)"),
        ({"l": list(range(65))}, "context.l has 65 entries (limit 64)"),
        ({"n": 2**64}, "context.n is outside the 64-bit integer range"),
        ({"m": {1: "a"}}, "context.m has a key that is not a string"),
        ({"o": object()}, "context.o has unsupported type object"),
        ({"deep": [[[[[[[[[["x"]]]]]]]]]]}, "nests deeper than 8 levels"),
    ],
)
def test_bad_contexts_name_the_path(context: dict[str, object], message: str) -> None:
    with pytest.raises(ContextError) as info:
        normalize_context(context)
    assert message in str(info.value)


def test_limits_are_configurable() -> None:
    with pytest.raises(ContextError, match="limit 3"):
        normalize_context({"s": "abcd"}, CelLimits(dyn_string_size=3))
