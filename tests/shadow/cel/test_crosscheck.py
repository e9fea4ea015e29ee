"""Our compiled closures agree with cel-python's own evaluator on generated expressions.

Expressions are generated well-typed over a small declared environment (so both engines
accept them) and evaluated against generated variables. Agreement means: both fail, or both
return the same value of the same type. Errors are compared as "an error", not by message.

cel-python deviates from CEL (and from us) in a few places; the generator stays clear of them:
- `(a + b).contains(x)`: the concatenation is a plain str and `contains` is then "no overload";
- errors inside `map`/`filter` bodies escape as exceptions past `&&`/`||` absorption;
- `exists_one` counts an erroring predicate as true;
- negative list indexes are accepted (Python indexing); doubles and null comparisons differ.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shieldx.shadow.cel import CelEnvironment, CelEvalError, compile_expression
from shieldx.shadow.cel import reference as celpy_reference
from shieldx.shadow.cel.types import INT, STRING, Variable, list_of, map_of

ENV = CelEnvironment(
    {
        "path": Variable(STRING, 64),
        "method": Variable(STRING, 8),
        "asn": Variable(INT),
        "body_size": Variable(INT),
        "headers": Variable(map_of(STRING, STRING), 4, 64),
        "nums": Variable(list_of(INT), 8),
        "words": Variable(list_of(STRING), 8, 16),
    }
)
# Built here, not inside the test: cel-python's Environment() raises the recursion limit, which
# hypothesis would report if it happened during a test.
CELPY = celpy_reference.environment("interpreted")
BIG = st.integers(min_value=-(2**63), max_value=2**63 - 1)
SMALL = st.integers(min_value=-20, max_value=20)
TEXT = st.text(alphabet="abcAB/._- é%", max_size=8)
PATTERNS = ("a", "^/", "b$", "[0-9]+", "(?i)ab", r"\.", "é", "a.*b")


def quote(text: str) -> str:
    """A CEL double-quoted string literal for text."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def int_expr(depth: int, var: str | None = None) -> st.SearchStrategy[str]:
    """Generated CEL int expressions; `var` is an int loop variable in scope."""
    leaves = [
        st.one_of(SMALL, BIG).map(str),
        st.sampled_from(["asn", "body_size", "size(path)", "size(nums)", "size(headers)"]),
        st.integers(0, 4).map(lambda i: f"nums[{i}]"),
    ]
    if var:
        leaves.append(st.just(var))
    leaf = st.one_of(*leaves)
    if depth <= 0:
        return leaf
    sub = int_expr(depth - 1, var)
    binary = st.tuples(sub, st.sampled_from("+-*/%"), sub).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
    ternary = st.tuples(bool_expr(depth - 1, var), sub, sub).map(
        lambda t: f"({t[0]} ? {t[1]} : {t[2]})"
    )
    return st.one_of(leaf, binary, ternary, sub.map(lambda e: f"-({e})"))


def string_leaf() -> st.SearchStrategy[str]:
    """String expressions that are not concatenations (safe method receivers for cel-python)."""
    return st.one_of(
        TEXT.map(quote),
        st.sampled_from(["path", "method", "headers.host", 'headers["x-a"]', "lowerAscii(path)"]),
        st.integers(0, 4).map(lambda i: f"words[{i}]"),
    )


def string_expr(depth: int, var: str | None = None) -> st.SearchStrategy[str]:
    """Generated CEL string expressions."""
    if depth <= 0:
        return string_leaf()
    sub = string_expr(depth - 1, var)
    concat = st.tuples(sub, sub).map(lambda t: f"({t[0]} + {t[1]})")
    ternary = st.tuples(bool_expr(depth - 1, var), sub, sub).map(
        lambda t: f"({t[0]} ? {t[1]} : {t[2]})"
    )
    return st.one_of(string_leaf(), concat, ternary)


def bool_expr(depth: int, var: str | None = None) -> st.SearchStrategy[str]:
    """Generated CEL bool expressions."""
    leaf = st.one_of(st.sampled_from(["true", "false", "has(headers.host)", '"x-a" in headers']))
    if depth <= 0:
        return leaf
    ints, strs, bools = (
        int_expr(depth - 1, var),
        string_expr(depth - 1, var),
        bool_expr(depth - 1, var),
    )
    compare = st.sampled_from(["<", "<=", ">", ">=", "==", "!="])
    receiver = string_leaf()
    options = [
        leaf,
        st.tuples(ints, compare, ints).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(strs, compare, strs).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(bools, st.sampled_from(["&&", "||"]), bools).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        bools.map(lambda e: f"!({e})"),
        st.tuples(bools, bools, bools).map(lambda t: f"({t[0]} ? {t[1]} : {t[2]})"),
        st.tuples(receiver, st.sampled_from(["contains", "startsWith", "endsWith"]), receiver).map(
            lambda t: f"{t[0]}.{t[1]}({t[2]})"
        ),
        st.tuples(receiver, st.sampled_from(PATTERNS)).map(
            lambda t: f"{t[0]}.matches({quote(t[1])})"
        ),
        ints.map(lambda e: f"({e} in nums)"),
        strs.map(lambda e: f"({e} in words)"),
        strs.map(lambda e: f"({e} in headers)"),
    ]
    if var is None:
        body = bool_expr(depth - 1, "x")
        safe = st.tuples(st.sampled_from([">", "<", "=="]), SMALL).map(lambda t: f"x {t[0]} {t[1]}")
        options += [
            st.tuples(st.sampled_from(["exists", "all"]), body).map(
                lambda t: f"nums.{t[0]}(x, {t[1]})"
            ),
            safe.map(lambda p: f"nums.exists_one(x, {p})"),
            st.tuples(safe, ints).map(lambda t: f"(size(nums.filter(x, {t[0]})) == {t[1]})"),
            st.tuples(SMALL, ints).map(lambda t: f"(nums.map(x, x + {t[0]})[0] == {t[1]})"),
        ]
    return st.one_of(*options)


VARIABLES = st.fixed_dictionaries(
    {
        "path": TEXT,
        "method": st.sampled_from(["GET", "POST", "put"]),
        "asn": st.one_of(SMALL, BIG),
        "body_size": st.one_of(SMALL, BIG),
        "headers": st.dictionaries(st.sampled_from(["host", "x-a", "cookie"]), TEXT, max_size=3),
        "nums": st.lists(SMALL, max_size=5),
        "words": st.lists(TEXT, max_size=5),
    }
)


def outcome(evaluate: object, *args: object) -> tuple[str, object]:
    """("ok", value) or ("error", None)."""
    try:
        return "ok", evaluate(*args)  # type: ignore[operator]
    except CelEvalError:
        return "error", None


def same(a: object, b: object) -> bool:
    """Equal values of the same type, all the way down (True is not 1)."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param(bool_expr, id="bool"),
        pytest.param(int_expr, id="int"),
        pytest.param(string_expr, id="string"),
    ],
)
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_closures_agree_with_cel_python(kind: object, data: st.DataObject) -> None:
    source = data.draw(kind(3))  # type: ignore[operator]
    variables = data.draw(VARIABLES)
    ours = outcome(compile_expression(source, ENV).evaluate, variables)
    program = celpy_reference.program(source, env=CELPY)
    theirs = outcome(celpy_reference.evaluate, program, celpy_reference.activation(variables))
    assert ours[0] == theirs[0], f"{source!r} on {variables!r}: ours {ours}, cel-python {theirs}"
    assert same(ours[1], theirs[1]), (
        f"{source!r} on {variables!r}: ours {ours}, cel-python {theirs}"
    )
