"""The comprehension macros: exists, all, exists_one, filter and map.

The loop variable lives in the activation under a private slot ("@var.depth"), written in
place on each iteration: the activation belongs to one evaluation, so no copy is needed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final

from shieldx.shadow.cel.ast import Comprehension
from shieldx.shadow.cel.types import (
    BOOL,
    Activation,
    CelCompileError,
    CelEvalError,
    CelType,
    Compiled,
    Evaluator,
    Kind,
    expect_kind,
    list_of,
)

_PREDICATES: Final = frozenset({"exists", "all", "exists_one", "filter"})
_Builder = Callable[[Evaluator, Evaluator, str], Evaluator]


def compile_macro(
    node: Comprehension, source: Compiled, body: Compiled, slot: str, var_type: CelType
) -> Compiled:
    """Build the closure for `source.macro(var, body)` with its static type and cost."""
    if node.macro in _PREDICATES:
        expect_kind(body, {Kind.BOOL}, f"the predicate of {node.macro}()", node.body.pos)
    range_fn = source.fn if source.type.known else _checked_range(source.fn, node.macro)
    body_fn = body.fn
    if node.macro in _PREDICATES and body.type != BOOL:
        body_fn = _checked_predicate(body.fn, node.macro)
    builder = _BUILDERS.get(node.macro)
    if builder is None:  # pragma: no cover - the parser only produces known macros
        raise CelCompileError(f"unknown macro {node.macro}()", node.pos)
    fn = builder(range_fn, body_fn, slot)
    cost = source.cost + 1 + source.size * (body.cost + 1)
    if node.macro == "filter":
        return Compiled(fn, list_of(var_type), cost, source.size, source.elem_size)
    if node.macro == "map":
        return Compiled(fn, list_of(body.type), cost, source.size, body.size)
    return Compiled(fn, BOOL, cost)


def _checked_range(get: Evaluator, macro: str) -> Evaluator:
    def checked(a: Activation) -> object:
        value = get(a)
        if type(value) not in (list, tuple, dict):
            raise CelEvalError(f"{macro}() needs a list or a map")
        return value

    return checked


def _checked_predicate(get: Evaluator, macro: str) -> Evaluator:
    def checked(a: Activation) -> object:
        value = get(a)
        if value is True or value is False:
            return value
        raise CelEvalError(f"the predicate of {macro}() must return a bool")

    return checked


def _items(get: Evaluator, a: Activation) -> Iterable[object]:
    items: Iterable[object] = get(a)
    return items


def _exists(source: Evaluator, body: Evaluator, slot: str) -> Evaluator:
    def exists(a: Activation) -> object:
        error: CelEvalError | None = None
        for value in _items(source, a):
            a[slot] = value
            try:
                if body(a):
                    return True
            except CelEvalError as exc:
                error = exc
        if error is not None:
            raise error
        return False

    return exists


def _all(source: Evaluator, body: Evaluator, slot: str) -> Evaluator:
    def all_(a: Activation) -> object:
        error: CelEvalError | None = None
        for value in _items(source, a):
            a[slot] = value
            try:
                if not body(a):
                    return False
            except CelEvalError as exc:
                error = exc
        if error is not None:
            raise error
        return True

    return all_


def _exists_one(source: Evaluator, body: Evaluator, slot: str) -> Evaluator:
    def exists_one(a: Activation) -> object:
        count = 0
        for value in _items(source, a):
            a[slot] = value
            if body(a):
                count += 1
        return count == 1

    return exists_one


def _filter(source: Evaluator, body: Evaluator, slot: str) -> Evaluator:
    def filter_(a: Activation) -> object:
        kept = []
        for value in _items(source, a):
            a[slot] = value
            if body(a):
                kept.append(value)
        return kept

    return filter_


def _map(source: Evaluator, body: Evaluator, slot: str) -> Evaluator:
    def map_(a: Activation) -> object:
        mapped = []
        for value in _items(source, a):
            a[slot] = value
            mapped.append(body(a))
        return mapped

    return map_


_BUILDERS: Final[dict[str, _Builder]] = {
    "exists": _exists,
    "all": _all,
    "exists_one": _exists_one,
    "filter": _filter,
    "map": _map,
}
