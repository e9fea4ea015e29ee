"""Operator compilation: arithmetic, equality, ordering, `in`, and CEL's `&&` / `||`.

Each builder checks the operand types it knows statically (a mismatch is a compile error at
the operator) and picks the fastest closure that keeps CEL's semantics: bare Python operators
when both kinds are known, run-time kind checks (cel/runtime.py) when one side is dyn.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, Final

from shieldx.shadow.cel import runtime as rt
from shieldx.shadow.cel.ast import Binary
from shieldx.shadow.cel.types import (
    BOOL,
    DYN,
    INT,
    Activation,
    CelCompileError,
    CelEvalError,
    CelType,
    Compiled,
    Evaluator,
    Kind,
    check_int64,
    expect_kind,
    fold,
    list_of,
    scan_cost,
    unify,
)

_SCALARS: Final = frozenset({Kind.INT, Kind.DOUBLE, Kind.STRING, Kind.BOOL})
ARITHMETIC: Final[dict[str, Callable[[object, object], object]]] = {
    "+": rt.add,
    "-": rt.subtract,
    "*": rt.multiply,
    "/": rt.divide,
    "%": rt.modulo,
}
_INT_ARITHMETIC: Final[dict[str, Callable[[int, int], int]]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
}
ORDERING: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def arithmetic(node: Binary, left: Compiled, right: Compiled) -> Compiled:
    """Compile `+ - * / %` with CEL overloads; int results are range checked."""
    result_type = _arithmetic_type(node, left.type, right.type)
    op, lf, rf = ARITHMETIC[node.op], left.fn, right.fn
    size = left.size + right.size if result_type.kind in (Kind.STRING, Kind.LIST) else 0
    cost = left.cost + right.cost + (scan_cost(size) if size else 1)
    fn = lambda a: op(lf(a), rf(a))  # noqa: E731
    if result_type.kind is Kind.STRING and left.type.known and right.type.known:
        fn = lambda a: lf(a) + rf(a)  # noqa: E731
    elif left.type == INT and right.type == INT and node.op in _INT_ARITHMETIC:
        int_op = _INT_ARITHMETIC[node.op]
        fn = lambda a: check_int64(int_op(lf(a), rf(a)))  # noqa: E731
    elem_size = max(left.elem_size, right.elem_size)
    return fold(Compiled(fn, result_type, cost, size, elem_size), left, right)


def _arithmetic_type(node: Binary, left: CelType, right: CelType) -> CelType:
    allowed = {
        Kind.INT: "+-*/%",
        Kind.DOUBLE: "+-*/",
        Kind.STRING: "+",
        Kind.LIST: "+",
    }
    if (
        left.known
        and right.known
        and (left.kind != right.kind or node.op not in allowed.get(left.kind, ""))
    ):
        raise CelCompileError(f"no operator '{node.op}' for ({left}, {right})", node.pos)
    known = left if left.known else right
    if not known.known:
        return DYN
    if node.op not in allowed.get(known.kind, ""):
        raise CelCompileError(f"no operator '{node.op}' for ({left}, {right})", node.pos)
    if known.kind is Kind.LIST:
        return list_of(unify([left.element, right.element]) if left.known and right.known else DYN)
    return known


_NUMERIC: Final = frozenset({Kind.INT, Kind.DOUBLE})


def _comparable(lt: CelType, rt_: CelType) -> bool:
    """Whether two statically known types may meet in `==` or an ordering."""
    return lt.kind == rt_.kind or {lt.kind, rt_.kind} <= _NUMERIC


def equality(node: Binary, left: Compiled, right: Compiled) -> Compiled:
    """Compile `==` / `!=`: int and double compare numerically, null with anything.

    Two statically known types that can never be equal (say a string and an int) are a
    compile error: such a rule is a bug. At run time, values of different kinds are unequal.
    """
    lt, rt_ = left.type, right.type
    if lt.known and rt_.known and Kind.NULL not in (lt.kind, rt_.kind) and not _comparable(lt, rt_):
        raise CelCompileError(f"cannot compare {lt} with {rt_} using '{node.op}'", node.pos)
    lf, rf = left.fn, right.fn
    fast = lt.kind in _SCALARS and lt.kind == rt_.kind
    if node.op == "==":
        fn: Evaluator = (lambda a: lf(a) == rf(a)) if fast else (lambda a: rt.equals(lf(a), rf(a)))
    else:
        fn = (lambda a: lf(a) != rf(a)) if fast else (lambda a: not rt.equals(lf(a), rf(a)))
    if fast and right.constant:
        value = right.value
        fn = (lambda a: lf(a) == value) if node.op == "==" else (lambda a: lf(a) != value)
    cost = left.cost + right.cost + scan_cost(min(left.size, right.size))
    return fold(Compiled(fn, BOOL, cost), left, right)


def ordering(node: Binary, left: Compiled, right: Compiled) -> Compiled:
    """Compile `< <= > >=` on ints, doubles (int and double compare numerically), strings, bools."""
    lt, rt_ = left.type, right.type
    for side in (left, right):
        expect_kind(side, set(_SCALARS), f"an operand of '{node.op}'", node.pos)
    if lt.known and rt_.known and not _comparable(lt, rt_):
        raise CelCompileError(f"cannot order {lt} and {rt_} with '{node.op}'", node.pos)
    compare, lf, rf, op = ORDERING[node.op], left.fn, right.fn, f"_{node.op}_"
    if lt.known and rt_.known and lt.kind == rt_.kind:
        fn: Evaluator = lambda a: compare(lf(a), rf(a))  # noqa: E731
    else:

        def fn(a: Activation) -> object:
            return compare(*rt.ordered(op, lf(a), rf(a)))

    cost = left.cost + right.cost + scan_cost(min(left.size, right.size))
    return fold(Compiled(fn, BOOL, cost), left, right)


def membership(node: Binary, item: Compiled, container: Compiled) -> Compiled:
    """Compile `in`: list membership (a set lookup for constant lists) or map key presence."""
    kind = container.type.kind
    if kind not in (Kind.LIST, Kind.MAP, Kind.DYN):
        raise CelCompileError(
            f"'in' needs a list or a map, not {container.type} (for text use contains())", node.pos
        )
    element = container.type.element
    if (
        kind is Kind.LIST
        and item.type.known
        and element.known
        and Kind.NULL not in (item.type.kind, element.kind)
        and not _comparable(item.type, element)
    ):
        raise CelCompileError(f"a {item.type} is never in a {container.type}", node.pos)
    lf, rf = item.fn, container.fn
    cost = item.cost + container.cost + 1
    if kind is Kind.MAP:
        expect_kind(
            item, {Kind.STRING, Kind.INT, Kind.BOOL}, "a map key tested with 'in'", node.pos
        )
        if item.type.kind is Kind.STRING:
            return Compiled(lambda a: lf(a) in rf(a), BOOL, cost)
    elif kind is Kind.LIST and container.constant:
        values: tuple[object, ...] = container.value  # type: ignore[assignment]
        kinds = {type(v) for v in values}
        if len(kinds) == 1 and kinds <= {str, int}:
            members, exact = frozenset(values), kinds.pop()
            if item.type.known and item.type.kind is element.kind:
                return Compiled(lambda a: lf(a) in members, BOOL, cost)

            def in_constant(a: Activation) -> bool:
                value = lf(a)
                return value in members if type(value) is exact else rt.contained_in(value, values)

            return Compiled(in_constant, BOOL, cost)
    compare = scan_cost(container.elem_size) if container.elem_size else 1
    cost += container.size * compare
    return fold(Compiled(lambda a: rt.contained_in(lf(a), rf(a)), BOOL, cost), item, container)


def strict_bool(get: Evaluator, op: str) -> Evaluator:
    """Wrap a dyn closure so that a non-bool result is a CEL error."""

    def strict(a: Activation) -> object:
        value = get(a)
        if value is True or value is False:
            return value
        raise CelEvalError(f"'{op}' needs bool operands")

    return strict


def any_true(fns: tuple[Evaluator, ...]) -> Evaluator:
    """`||` over n operands: true wins over errors, errors over false."""
    if len(fns) == 2:
        first, second = fns

        def either(a: Activation) -> object:
            try:
                if first(a):
                    return True
            except CelEvalError:
                if second(a):
                    return True
                raise
            return second(a)

        return either

    def any_true(a: Activation) -> object:
        error: CelEvalError | None = None
        for fn in fns:
            try:
                if fn(a):
                    return True
            except CelEvalError as exc:
                error = exc
        if error is not None:
            raise error
        return False

    return any_true


def all_true(fns: tuple[Evaluator, ...]) -> Evaluator:
    """`&&` over n operands: false wins over errors, errors over true."""
    if len(fns) == 2:
        first, second = fns

        def both(a: Activation) -> object:
            try:
                if not first(a):
                    return False
            except CelEvalError:
                if not second(a):
                    return False
                raise
            return second(a)

        return both

    def all_true(a: Activation) -> object:
        error: CelEvalError | None = None
        for fn in fns:
            try:
                if not fn(a):
                    return False
            except CelEvalError as exc:
                error = exc
        if error is not None:
            raise error
        return True

    return all_true
