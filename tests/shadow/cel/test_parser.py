from __future__ import annotations

import pytest

from shieldx.shadow.cel.ast import (
    Binary,
    Call,
    Comprehension,
    Has,
    Ident,
    Literal,
    Logical,
    free_names,
    walk,
)
from shieldx.shadow.cel.parser import parse, unescape_string
from shieldx.shadow.cel.types import NO_POSITION, CelCompileError


def test_logical_chains_are_flattened_so_long_chains_do_not_nest() -> None:
    tree = parse(" || ".join(f'path == "/{i}"' for i in range(200)))
    assert isinstance(tree, Logical)
    assert len(tree.operands) == 200


def test_parentheses_keep_their_grouping() -> None:
    tree = parse("a || (b && c)")
    assert isinstance(tree, Logical) and tree.op == "||"
    assert isinstance(tree.operands[1], Logical) and tree.operands[1].op == "&&"


def test_macros_become_comprehensions_and_has_becomes_has() -> None:
    tree = parse("headers.exists(h, has(m.f))")
    assert isinstance(tree, Comprehension)
    assert (tree.macro, tree.var) == ("exists", "h")
    assert isinstance(tree.body, Has) and tree.body.field == "f"


def test_literals_are_decoded_like_cel_python() -> None:
    assert parse(r'"a\x41\u00e9\n"') == Literal("aAé\n")
    assert parse(r"r'\d+'") == Literal(r"\d+")
    assert parse("0x1F") == Literal(31)
    assert parse("-9223372036854775808") == Literal(-(2**63))
    assert parse("1.5e3") == Literal(1500.0)
    assert parse("null") == Literal(None)


def test_equal_trees_compare_equal_whatever_their_position() -> None:
    assert parse("f(x) + 1") == parse("  f(x)   +   1")
    assert hash(parse("f(x)")) == hash(parse(" f( x )"))


def test_method_calls_keep_their_target() -> None:
    tree = parse('path.startsWith("/a")')
    assert isinstance(tree, Call) and tree.target == Ident("path") and tree.args == (Literal("/a"),)


@pytest.mark.parametrize(
    ("source", "line", "column", "message"),
    [
        ("path ==", 1, 8, "unexpected end"),
        ("a $ b", 1, 3, "syntax error"),
        ('path == "x" &&\n  ]', 2, 3, "syntax error"),
        ("1u", 1, 1, "unsigned"),
        ('b"bytes"', 1, 1, "bytes"),
        ("9223372036854775808", 1, 1, "int64"),
        ("T{a: 1}", 1, 1, "message construction"),
        ("x.map(1, 2)", 1, 3, "variable name"),
        ("has(x)", 1, 1, "field selection"),
    ],
)
def test_errors_carry_a_position(source: str, line: int, column: int, message: str) -> None:
    with pytest.raises(CelCompileError) as info:
        parse(source)
    assert (info.value.line, info.value.column) == (line, column)
    assert message in info.value.message


def test_length_and_depth_are_limited() -> None:
    with pytest.raises(CelCompileError, match="characters long"):
        parse("a" * 5000)
    with pytest.raises(CelCompileError, match="nests deeper"):
        parse("(" * 60 + "1" + ")" * 60)


def test_free_names_exclude_comprehension_variables() -> None:
    tree = parse("xs.exists(x, x == y) && z")
    assert free_names(tree) == {"xs", "y", "z"}


def test_walk_visits_every_node() -> None:
    nodes = walk(parse("a + b * c"))
    assert sum(isinstance(n, Binary) for n in nodes) == 2
    assert {n.name for n in nodes if isinstance(n, Ident)} == {"a", "b", "c"}


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("''' \n '''", " \n "),  # a real newline inside triple quotes is kept
        ('""" \n """', " \n "),
        (r"' \\ \? \" \' \` '", " \\ ? \" ' ` "),
        (r"' \X00 \X0A \X7F '", " \x00 \x0a \x7f "),
        (r"' \x4a \x4B \X4c \u01aB \U000001aB \101 '", " J K L \u01ab \u01ab A "),
        (r"r'\n\x41'", "\\n\\x41"),
        (r"'\a\b\f\n\r\t\v'", "\a\b\f\n\r\t\v"),
    ],
)
def test_string_escapes_follow_the_cel_spec(source: str, value: str) -> None:
    assert unescape_string(source, NO_POSITION) == value


@pytest.mark.parametrize("source", [r"'\q'", r"'\ud800'", r"'\U00110000'"])
def test_bad_string_escapes_are_compile_errors(source: str) -> None:
    with pytest.raises(CelCompileError, match="invalid"):
        unescape_string(source, NO_POSITION)
