"""Compiles the CEL AST into nested Python closures: type-checked, cost-bounded, never eval'd.

Static types decide which closure is built: when both sides of `body_size > 1000` are known
ints the closure is a bare comparison; when a side is dyn the closure checks kinds at run time
with CEL's rules (cel/runtime.py). Run-time failures raise CelEvalError; `&&`, `||`, `?:`,
`exists` and `all` absorb them exactly as CEL's commutative logic says.
"""

from __future__ import annotations

import difflib
import operator
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from shieldx.shadow.cel import runtime as rt
from shieldx.shadow.cel.ast import (
    Binary,
    Call,
    Comprehension,
    Conditional,
    Expr,
    Has,
    Ident,
    Index,
    ListLit,
    Literal,
    Logical,
    MapLit,
    Select,
    Unary,
    free_names,
)
from shieldx.shadow.cel.functions import compile_call
from shieldx.shadow.cel.macros import compile_macro
from shieldx.shadow.cel.operators import (
    ARITHMETIC,
    ORDERING,
    all_true,
    any_true,
    arithmetic,
    equality,
    membership,
    ordering,
    strict_bool,
)
from shieldx.shadow.cel.regex import RegexGroup, matches_parts
from shieldx.shadow.cel.types import (
    BOOL,
    DYN,
    INT,
    Activation,
    CelCompileError,
    CelEvalError,
    CelLimits,
    CelType,
    Compiled,
    Evaluator,
    Kind,
    Variable,
    constant,
    expect_kind,
    fold,
    list_of,
    literal_type,
    map_of,
    unify,
)

_MISSING: Final = object()


@dataclass(frozen=True, slots=True)
class Sharing:
    """Work shared between the expressions of a rule set, once per activation.

    `memo` maps repeated sub-expressions to memo slots; `regex` maps the subject of constant
    `matches` calls to the RE2 Set that tests all of its patterns in one pass.
    """

    memo: Mapping[Expr, str] = field(default_factory=dict)
    regex: Mapping[Expr, RegexGroup] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Binding:
    slot: str
    type: CelType
    size: int


class ExpressionCompiler:
    """Compiles one AST against declared variables; `shared` nodes are memoised per activation."""

    def __init__(
        self,
        variables: Mapping[str, Variable],
        limits: CelLimits,
        sharing: Sharing | None = None,
    ) -> None:
        self._variables = variables
        self._limits = limits
        self._shared = sharing.memo if sharing else {}
        self._regex = sharing.regex if sharing else {}
        self._scopes: list[dict[str, _Binding]] = []

    def compile(self, node: Expr) -> Compiled:
        """Compile a node; raise CelCompileError with the node's position on any problem."""
        handler = getattr(self, f"_{type(node).__name__.lower()}")
        compiled: Compiled = handler(node)
        slot = self._shared.get(node)
        if slot is not None and not compiled.constant and not self._binds_any(free_names(node)):
            compiled = _memoised(compiled, slot)
        return compiled

    def _binds_any(self, names: Collection[str]) -> bool:
        return any(name in scope for scope in self._scopes for name in names)

    def _literal(self, node: Literal) -> Compiled:
        return constant(node.value, literal_type(node.value))

    def _ident(self, node: Ident) -> Compiled:
        for scope in () if node.root else reversed(self._scopes):
            if node.name in scope:
                bound = scope[node.name]
                return Compiled(operator.itemgetter(bound.slot), bound.type, 1, bound.size)
        declared = self._variables.get(node.name)
        if declared is None:
            hint = difflib.get_close_matches(node.name, list(self._variables), n=1)
            known = ", ".join(sorted(self._variables))
            advice = f"did you mean '{hint[0]}'?" if hint else f"known fields: {known}"
            raise CelCompileError(f"unknown identifier '{node.name}' ({advice})", node.pos)
        getter = operator.itemgetter(node.name)
        return Compiled(getter, declared.type, 1, declared.size, declared.elem_size, root=node.name)

    def _select(self, node: Select) -> Compiled:
        base = self.compile(node.operand)
        expect_kind(base, {Kind.MAP}, f"the operand of '.{node.field}'", node.pos)
        return self._lookup(base, constant(node.field, literal_type(node.field)), node)

    def _index(self, node: Index) -> Compiled:
        base, key = self.compile(node.operand), self.compile(node.index)
        expect_kind(base, {Kind.MAP, Kind.LIST}, "an indexed value", node.pos)
        if base.type.kind is Kind.LIST:
            expect_kind(key, {Kind.INT}, "a list index", node.index.pos)
        elif base.type.kind is Kind.MAP and base.type.key is not None:
            expect_kind(key, {base.type.key.kind}, "the map key", node.index.pos)
        return self._lookup(base, key, node)

    def _lookup(self, base: Compiled, key: Compiled, node: Expr) -> Compiled:
        get, pos = base.fn, node.pos
        if (
            base.type.kind is Kind.MAP
            and key.constant
            and (type(key.value) is str or (type(key.value) is int and base.type.key == INT))
        ):
            name = key.value

            def lookup_constant(a: Activation) -> object:
                try:
                    return get(a)[name]
                except KeyError:
                    raise CelEvalError(f"no such key: {name!r}", pos) from None

            fn: Evaluator = lookup_constant
        else:
            key_fn = key.fn
            fn = lambda a: rt.index(get(a), key_fn(a))  # noqa: E731
        size = base.elem_size or self._limits.dyn_string_size
        return Compiled(fn, base.type.element, base.cost + key.cost + 1, size)

    def _has(self, node: Has) -> Compiled:
        base = self.compile(node.operand)
        expect_kind(base, {Kind.MAP}, "the operand of has()", node.pos)
        get, name = base.fn, node.field
        if base.type.kind is Kind.MAP:
            return Compiled(lambda a: name in get(a), BOOL, base.cost + 1)
        return Compiled(lambda a: rt.has_field(get(a), name), BOOL, base.cost + 1)

    def _call(self, node: Call) -> Compiled:
        receiver = self.compile(node.target) if node.target is not None else None
        args = [self.compile(arg) for arg in node.args]
        parts = matches_parts(node)
        group = None
        # A subject that reads a loop variable changes per iteration: no per-activation result.
        if parts is not None and not self._binds_any(free_names(parts[0])):
            group = self._regex.get(parts[0])
        return compile_call(node, receiver, args, self._limits, group)

    def _comprehension(self, node: Comprehension) -> Compiled:
        source = self.compile(node.range)
        expect_kind(source, {Kind.LIST, Kind.MAP}, f"the range of {node.macro}()", node.range.pos)
        is_map = source.type.kind is Kind.MAP
        var_type = (source.type.key or DYN) if is_map else source.type.element
        slot = f"@{node.var}.{len(self._scopes)}"
        self._scopes.append({node.var: _Binding(slot, var_type, source.elem_size)})
        try:
            body = self.compile(node.body)
        finally:
            self._scopes.pop()
        return compile_macro(node, source, body, slot, var_type)

    def _unary(self, node: Unary) -> Compiled:
        inner = self.compile(node.operand)
        get = inner.fn
        if node.op == "!":
            expect_kind(inner, {Kind.BOOL}, "the operand of '!'", node.pos)
            fn: Evaluator = (
                (lambda a: not get(a)) if inner.type == BOOL else (lambda a: rt.logical_not(get(a)))
            )
            return fold(Compiled(fn, BOOL, inner.cost + 1), inner)
        expect_kind(inner, {Kind.INT, Kind.DOUBLE}, "the operand of unary '-'", node.pos)
        return fold(Compiled(lambda a: rt.negate(get(a)), inner.type, inner.cost + 1), inner)

    def _logical(self, node: Logical) -> Compiled:
        parts = [self.compile(operand) for operand in node.operands]
        for part, operand in zip(parts, node.operands, strict=True):
            expect_kind(part, {Kind.BOOL}, f"an operand of '{node.op}'", operand.pos)
        fns = tuple(p.fn if p.type == BOOL else strict_bool(p.fn, node.op) for p in parts)
        fn = any_true(fns) if node.op == "||" else all_true(fns)
        return fold(Compiled(fn, BOOL, 1 + sum(p.cost for p in parts)), *parts)

    def _conditional(self, node: Conditional) -> Compiled:
        cond, then, otherwise = (self.compile(n) for n in (node.cond, node.then, node.otherwise))
        expect_kind(cond, {Kind.BOOL}, "the condition of '?:'", node.cond.pos)
        if cond.constant and isinstance(cond.value, bool):
            return then if cond.value else otherwise
        test = cond.fn if cond.type == BOOL else strict_bool(cond.fn, "?:")
        yes, no = then.fn, otherwise.fn
        return Compiled(
            lambda a: yes(a) if test(a) else no(a),
            unify([then.type, otherwise.type]),
            cond.cost + max(then.cost, otherwise.cost) + 1,
            max(then.size, otherwise.size),
            max(then.elem_size, otherwise.elem_size),
        )

    def _listlit(self, node: ListLit) -> Compiled:
        items = [self.compile(item) for item in node.items]
        kind = list_of(unify([item.type for item in items]))
        elem_size = max((item.size for item in items), default=0)
        if all(item.constant for item in items):
            return constant(tuple(item.value for item in items), kind, elem_size)
        fns = tuple(item.fn for item in items)
        cost = 1 + sum(item.cost for item in items)
        return Compiled(lambda a: [fn(a) for fn in fns], kind, cost, len(items), elem_size)

    def _maplit(self, node: MapLit) -> Compiled:
        entries = [(self.compile(k), self.compile(v)) for k, v in node.entries]
        seen: set[object] = set()
        for (key, _), (key_node, _) in zip(entries, node.entries, strict=True):
            expect_kind(key, {Kind.STRING, Kind.INT, Kind.BOOL}, "a map key", key_node.pos)
            if key.constant and key.value in seen:
                raise CelCompileError(_duplicate_key(key.value, seen), key_node.pos)
            seen.add(key.value)
        kind = map_of(unify([k.type for k, _ in entries]), unify([v.type for _, v in entries]))
        elem_size = max((max(k.size, v.size) for k, v in entries), default=0)
        pairs = tuple((k.fn, v.fn) for k, v in entries)

        def build_map(a: Activation) -> object:
            result: dict[object, object] = {}
            for key_fn, value_fn in pairs:
                key = rt.map_key(key_fn(a), "{_:_}")
                if key in result:
                    raise CelEvalError(_duplicate_key(key, result))
                result[key] = value_fn(a)
            return result

        cost = 1 + sum(k.cost + v.cost for k, v in entries)
        return Compiled(build_map, kind, cost, len(entries), elem_size)

    def _binary(self, node: Binary) -> Compiled:
        left, right = self.compile(node.left), self.compile(node.right)
        if node.op in ARITHMETIC:
            return arithmetic(node, left, right)
        if node.op in ("==", "!="):
            return equality(node, left, right)
        if node.op in ORDERING:
            return ordering(node, left, right)
        return membership(node, left, right)


def _memoised(compiled: Compiled, slot: str) -> Compiled:
    get = compiled.fn

    def memo(a: Activation) -> object:
        value = a.get(slot, _MISSING)
        if value is _MISSING:
            value = a[slot] = get(a)
        return value

    return Compiled(memo, compiled.type, compiled.cost, compiled.size, compiled.elem_size)


def _duplicate_key(key: object, seen: Iterable[object]) -> str:
    """The error for a repeated map key (or for true/1, false/0: Python cannot hold both)."""
    if any(k == key and type(k) is not type(key) for k in seen):
        return f"a map cannot hold both the bool and the int key {key!r} in this engine"
    return f"duplicate map key {key!r}"
