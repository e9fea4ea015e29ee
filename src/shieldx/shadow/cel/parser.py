"""The CEL parser: cel-python's lark grammar, converted into our own AST.

Only the grammar and the lexer of cel-python are used; the tree is converted node by node
into our AST (cel/ast.py), refusing what the engine does not support (with the position).
`&&` and `||` chains become one n-ary node, so a long chain of alternatives does not nest
deeply.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from typing import Final

import lark
from celpy.celparser import CELParser
from lark.exceptions import UnexpectedEOF, UnexpectedInput

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
)
from shieldx.shadow.cel.types import INT64_MAX, INT64_MIN, CelCompileError, Position

_Tree = lark.Tree[lark.Token]
_Node = _Tree | lark.Token
MACROS: Final = frozenset({"exists", "all", "exists_one", "filter", "map"})
_PASSTHROUGH: Final = frozenset(
    {
        "expr",
        "conditionalor",
        "conditionaland",
        "relation",
        "addition",
        "multiplication",
        "unary",
        "member",
        "primary",
    }
)
_BINARY_OPS: Final = {
    "relation_lt": "<",
    "relation_le": "<=",
    "relation_gt": ">",
    "relation_ge": ">=",
    "relation_eq": "==",
    "relation_ne": "!=",
    "relation_in": "in",
    "addition_add": "+",
    "addition_sub": "-",
    "multiplication_mul": "*",
    "multiplication_div": "/",
    "multiplication_mod": "%",
}
_LOGICAL_OPS: Final = {"conditionalor": "||", "conditionaland": "&&"}


@functools.cache
def _lark_parser() -> lark.Lark:
    # Built once and never mutated; our own instance so that cel-python's singleton parser
    # (whose tree class depends on the runner) is left alone.
    grammar = importlib.resources.files("celpy").joinpath("cel.lark").read_text()
    # The spec's backtick-quoted field names (`m.`content-type``), absent from cel-python.
    plain = 'member_dot     : member "." IDENT\n'
    if plain not in grammar:
        raise RuntimeError("cel-python's grammar changed: cannot add quoted field names")
    grammar = grammar.replace(plain, 'member_dot     : member "." (IDENT | QUOTED_IDENT)\n')
    grammar += "\nQUOTED_IDENT : /`[_a-zA-Z0-9.\\-\\/ ]+`/\n"
    return lark.Lark(
        grammar,
        parser="lalr",
        start="expr",
        g_regex_flags=re.M,
        lexer_callbacks={"IDENT": CELParser.ambiguous_literals},
        propagate_positions=True,
        maybe_placeholders=False,
        priority="invert",
    )


def parse(source: str, *, max_length: int = 4096, max_depth: int = 48) -> Expr:
    """Parse CEL source into an AST; raise CelCompileError with the position of any problem."""
    if len(source) > max_length:
        raise CelCompileError(f"expression is {len(source)} characters long (limit {max_length})")
    try:
        tree = _lark_parser().parse(source)
    except UnexpectedEOF:
        raise CelCompileError("unexpected end of expression", _end_of(source)) from None
    except UnexpectedInput as exc:
        token = getattr(exc, "token", None)
        if exc.line < 1 or (isinstance(token, lark.Token) and token.type == "$END"):
            raise CelCompileError("unexpected end of expression", _end_of(source)) from None
        found = _offending_text(source, exc)
        where = Position(exc.line, max(exc.column, 1))
        raise CelCompileError(f"syntax error at {found}", where) from None
    return _TreeConverter(max_depth).convert(tree, 0)


def _end_of(source: str) -> Position:
    lines = source.split("\n")
    return Position(len(lines), len(lines[-1]) + 1)


def _offending_text(source: str, exc: UnexpectedInput) -> str:
    token = getattr(exc, "token", None)
    if isinstance(token, lark.Token):
        return repr(str(token))
    pos = getattr(exc, "pos_in_stream", None)
    return repr(source[pos]) if isinstance(pos, int) and 0 <= pos < len(source) else "input"


def _position(node: _Node) -> Position:
    if isinstance(node, lark.Token):
        return Position(node.line or 1, node.column or 1)
    line = getattr(node.meta, "line", None)
    if line is not None:
        return Position(line, getattr(node.meta, "column", 1))
    for token in node.scan_values(lambda v: isinstance(v, lark.Token)):
        return _position(token)
    return Position(1, 1)


class _TreeConverter:
    """Turns cel-python's parse tree into our AST, refusing what the engine does not support."""

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth

    def convert(self, tree: _Tree, depth: int) -> Expr:
        while tree.data in _PASSTHROUGH and len(tree.children) == 1:
            tree = _tree(tree.children[0])
        if depth > self.max_depth:
            raise CelCompileError(f"expression nests deeper than {self.max_depth}", _position(tree))
        handler = getattr(self, f"_{tree.data}", None)
        if handler is None:
            raise CelCompileError(f"unsupported construct '{tree.data}'", _position(tree))
        result: Expr = handler(tree, depth + 1)
        return result

    def _expr(self, tree: _Tree, depth: int) -> Expr:
        cond, then, otherwise = (self.convert(_tree(c), depth) for c in tree.children)
        return Conditional(cond, then, otherwise, pos=_position(tree))

    def _logical(self, tree: _Tree, depth: int) -> Expr:
        operands: list[Expr] = []
        node = tree
        while node.data == tree.data and len(node.children) == 2:
            operands.append(self.convert(_tree(node.children[1]), depth))
            node = _tree(node.children[0])
        operands.append(self.convert(node, depth))
        return Logical(_LOGICAL_OPS[tree.data], tuple(reversed(operands)), pos=_position(tree))

    _conditionalor = _conditionaland = _logical

    def _binary(self, tree: _Tree, depth: int) -> Expr:
        op_tree, right = _tree(tree.children[0]), _tree(tree.children[1])
        left = self.convert(_tree(op_tree.children[0]), depth)
        op = _BINARY_OPS[op_tree.data]
        return Binary(op, left, self.convert(right, depth), pos=_position(op_tree))

    _relation = _addition = _multiplication = _binary

    def _unary(self, tree: _Tree, depth: int) -> Expr:
        op_tree = _tree(tree.children[0])
        op = "!" if op_tree.data == "unary_not" else "-"
        return Unary(op, self.convert(_tree(tree.children[1]), depth), pos=_position(tree))

    def _member_dot(self, tree: _Tree, depth: int) -> Expr:
        operand = self.convert(_tree(tree.children[0]), depth)
        name = _token(tree.children[1])
        field = str(name)[1:-1] if name.type == "QUOTED_IDENT" else str(name)
        return Select(operand, field, pos=_position(name))

    def _member_dot_arg(self, tree: _Tree, depth: int) -> Expr:
        target = self.convert(_tree(tree.children[0]), depth)
        name = _token(tree.children[1])
        args = self._args(tree.children[2:], depth)
        if str(name) in MACROS:
            return self._macro(str(name), target, args, _position(name))
        return Call(str(name), target, args, pos=_position(name))

    def _macro(self, macro: str, target: Expr, args: tuple[Expr, ...], pos: Position) -> Expr:
        if len(args) != 2 or not isinstance(args[0], Ident):
            raise CelCompileError(f"{macro}() takes a variable name and an expression", pos)
        return Comprehension(macro, target, args[0].name, args[1], pos=pos)

    def _member_index(self, tree: _Tree, depth: int) -> Expr:
        operand, index = (self.convert(_tree(c), depth) for c in tree.children)
        return Index(operand, index, pos=_position(tree))

    def _member_object(self, tree: _Tree, depth: int) -> Expr:
        raise CelCompileError("message construction is not supported", _position(tree))

    def _ident_arg(self, tree: _Tree, depth: int) -> Expr:
        name = _token(tree.children[0])
        args = self._args(tree.children[1:], depth)
        if str(name) == "has":
            if len(args) != 1 or not isinstance(args[0], Select):
                raise CelCompileError(
                    "has() takes one field selection, like has(m.f)", _position(name)
                )
            return Has(args[0].operand, args[0].field, pos=_position(name))
        return Call(str(name), None, args, pos=_position(name))

    def _ident(self, tree: _Tree, depth: int) -> Expr:
        name = _token(tree.children[0])
        return Ident(str(name), pos=_position(name))

    def _dot_ident(self, tree: _Tree, depth: int) -> Expr:
        # `.name` always means the root variable, even inside a macro that binds `name`.
        name = _token(tree.children[0])
        return Ident(str(name), root=True, pos=_position(name))

    def _paren_expr(self, tree: _Tree, depth: int) -> Expr:
        return self.convert(_tree(tree.children[0]), depth)

    def _list_lit(self, tree: _Tree, depth: int) -> Expr:
        return ListLit(self._args(tree.children, depth), pos=_position(tree))

    def _map_lit(self, tree: _Tree, depth: int) -> Expr:
        inits = _tree(tree.children[0]).children if tree.children else []
        flat = self._args(list(inits), depth)
        entries = tuple(zip(flat[0::2], flat[1::2], strict=True))
        return MapLit(entries, pos=_position(tree))

    def _args(self, children: list[_Node], depth: int) -> tuple[Expr, ...]:
        if not children:
            return ()
        exprlist = _tree(children[0])
        if exprlist.data != "exprlist":
            return tuple(self.convert(_tree(c), depth) for c in children)
        return tuple(self.convert(_tree(c), depth) for c in exprlist.children)

    def _literal(self, tree: _Tree, depth: int) -> Expr:
        token = _token(tree.children[0])
        return Literal(_literal_value(token), pos=_position(token))


def _literal_value(token: lark.Token) -> object:
    kind, text = token.type, str(token)
    if kind == "INT_LIT":
        negative, digits = text.startswith("-"), text.lstrip("-")
        value = int(digits[2:], 16) if digits[:2].lower() == "0x" else int(digits, 10)
        value = -value if negative else value
        if not INT64_MIN <= value <= INT64_MAX:
            raise CelCompileError(
                f"integer literal {text} is out of the int64 range", _position(token)
            )
        return value
    if kind == "FLOAT_LIT":
        return float(text)
    if kind in ("STRING_LIT", "MLSTRING_LIT"):
        return unescape_string(text, _position(token))
    if kind == "BOOL_LIT":
        return text == "true"
    if kind == "NULL_LIT":
        return None
    what = {"UINT_LIT": "unsigned integers", "BYTES_LIT": "bytes literals"}.get(kind, kind)
    raise CelCompileError(f"{what} are not supported", _position(token))


_ESCAPE: Final = re.compile(
    r"\\(?:([abfnrtv\\'\"`?])|[xX]([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})"
    r"|([0-3][0-7]{2})|(.|\n|$))"
)
_SIMPLE_ESCAPES: Final = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
}


def unescape_string(text: str, position: Position) -> str:
    """Decode a CEL string literal token (quotes, optional r prefix) to its value.

    Our own, per the CEL spec, rather than cel-python's celstr: that one dropped a real newline
    inside triple quotes and left \\?, \\` and \\X undecoded.
    """
    raw = text[:1] in ("r", "R")
    body = text[1:] if raw else text
    quote = 3 if body[:3] in ('"""', "'''") else 1
    body = body[quote:-quote]
    if raw:
        return body

    def decode(match: re.Match[str]) -> str:
        simple, hex2, hex4, hex8, octal, bad = match.groups()
        if simple is not None:
            return _SIMPLE_ESCAPES.get(simple, simple)
        if bad is not None:
            raise CelCompileError(f"invalid escape sequence \\{bad!r} in a string", position)
        code = int(hex2 or hex4 or hex8, 16) if octal is None else int(octal, 8)
        if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
            raise CelCompileError(f"invalid code point U+{code:04X} in a string", position)
        return chr(code)

    return _ESCAPE.sub(decode, body)


def _tree(node: _Node) -> _Tree:
    if not isinstance(node, lark.Tree):
        raise CelCompileError(f"unexpected token {str(node)!r}", _position(node))
    return node


def _token(node: _Node) -> lark.Token:
    if not isinstance(node, lark.Token):
        raise CelCompileError("expected a name", _position(node))
    return node
