"""The CEL abstract syntax tree: small frozen nodes that compare equal when structurally equal."""

from __future__ import annotations

from dataclasses import dataclass, field

from shieldx.shadow.cel.types import Position


@dataclass(frozen=True, slots=True)
class Expr:
    """Base of every node; the position is ignored by equality so that equal trees hash alike."""

    pos: Position = field(default=Position(1, 1), compare=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Literal(Expr):
    """A null, bool, int, double or string constant."""

    value: object


@dataclass(frozen=True, slots=True)
class Ident(Expr):
    """A variable reference; `root` (written `.name`) skips macro variables that shadow it."""

    name: str
    root: bool = False


@dataclass(frozen=True, slots=True)
class Select(Expr):
    """Field selection `operand.field` (on a map: `operand["field"]`)."""

    operand: Expr
    field: str


@dataclass(frozen=True, slots=True)
class Index(Expr):
    """Indexing `operand[index]` of a list or a map."""

    operand: Expr
    index: Expr


@dataclass(frozen=True, slots=True)
class Call(Expr):
    """A global function `name(args)` or a method `target.name(args)`."""

    name: str
    target: Expr | None
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Unary(Expr):
    """Logical `!` or arithmetic `-`."""

    op: str
    operand: Expr


@dataclass(frozen=True, slots=True)
class Binary(Expr):
    """An arithmetic, comparison or `in` operator."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Logical(Expr):
    """A chain of `&&` or `||` flattened into one n-ary node (CEL's semantics are commutative)."""

    op: str
    operands: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Conditional(Expr):
    """The ternary `cond ? then : otherwise`."""

    cond: Expr
    then: Expr
    otherwise: Expr


@dataclass(frozen=True, slots=True)
class ListLit(Expr):
    """A list literal."""

    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class MapLit(Expr):
    """A map literal."""

    entries: tuple[tuple[Expr, Expr], ...]


@dataclass(frozen=True, slots=True)
class Has(Expr):
    """The `has(operand.field)` macro: presence of a key in a map."""

    operand: Expr
    field: str


@dataclass(frozen=True, slots=True)
class Comprehension(Expr):
    """A macro `range.macro(var, body)`: exists, all, exists_one, filter or map."""

    macro: str
    range: Expr
    var: str
    body: Expr


def children(node: Expr) -> tuple[Expr, ...]:
    """The direct sub-expressions of a node."""
    if isinstance(node, Select | Has):
        return (node.operand,)
    if isinstance(node, Index):
        return (node.operand, node.index)
    if isinstance(node, Call):
        return ((node.target,) if node.target else ()) + node.args
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, Logical):
        return node.operands
    if isinstance(node, Conditional):
        return (node.cond, node.then, node.otherwise)
    if isinstance(node, ListLit):
        return node.items
    if isinstance(node, MapLit):
        return tuple(part for entry in node.entries for part in entry)
    if isinstance(node, Comprehension):
        return (node.range, node.body)
    return ()


def free_names(node: Expr) -> frozenset[str]:
    """The identifiers a node reads that no comprehension inside it binds."""
    if isinstance(node, Ident):
        return frozenset({node.name})
    if isinstance(node, Comprehension):
        return free_names(node.range) | (free_names(node.body) - {node.var})
    names: frozenset[str] = frozenset()
    for child in children(node):
        names |= free_names(child)
    return names


def walk(node: Expr) -> list[Expr]:
    """Every node of the tree, parents before children."""
    nodes, stack = [], [node]
    while stack:
        current = stack.pop()
        nodes.append(current)
        stack.extend(reversed(children(current)))
    return nodes
