"""CEL functions: strings, RE2 regexes, CIDR membership, size and conversions.

Every function can be called globally, `f(x, y)`, or as a method, `x.f(y)`; both forms mean
the same. Constant arguments are prepared once at compile time: regex patterns and CIDR
lists are compiled then, and a bad pattern or CIDR is a compile error at its position.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from shieldx.shadow.cel import runtime as rt
from shieldx.shadow.cel.ast import Call, Expr
from shieldx.shadow.cel.regex import PatternSet, RegexGroup, compile_regex
from shieldx.shadow.cel.types import (
    BOOL,
    DOUBLE,
    DYN,
    INT,
    STRING,
    Activation,
    CelCompileError,
    CelEvalError,
    CelLimits,
    CelType,
    Compiled,
    Evaluator,
    Kind,
    Position,
    expect_kind,
    fold,
    scan_cost,
)

_MISSING: Final = object()
_TEXT: Final = frozenset({Kind.STRING})


@dataclass(frozen=True, slots=True)
class _Site:
    """What a builder needs to know about the call it compiles."""

    name: str
    args: Sequence[Compiled]
    nodes: Sequence[Expr]
    limits: CelLimits
    method: bool
    regex: RegexGroup | None

    def pos(self, index: int) -> Position:
        return self.nodes[index].pos

    def describe(self, index: int) -> str:
        if self.method and index == 0:
            return f"the target of {self.name}()"
        return f"argument {index + (0 if self.method else 1)} of {self.name}()"


_Builder = Callable[[_Site], Compiled]


def compile_call(
    node: Call,
    receiver: Compiled | None,
    args: list[Compiled],
    limits: CelLimits,
    regex: RegexGroup | None = None,
) -> Compiled:
    """Compile `name(args)` or `receiver.name(args)`; unknown names and arities are compile errors.

    `regex` is the shared pattern Set of this call's subject when it is a `matches` call.
    """
    entry = _FUNCTIONS.get(node.name)
    if entry is None:
        feature = UNSUPPORTED_FUNCTIONS.get(node.name)
        if feature is not None:
            raise CelCompileError(f"{node.name}(): {feature} are not supported", node.pos)
        hint = difflib.get_close_matches(node.name, list(_FUNCTIONS), n=1)
        advice = f" (did you mean '{hint[0]}'?)" if hint else ""
        raise CelCompileError(f"unknown function '{node.name}'{advice}", node.pos)
    arity, builder = entry
    values = ([receiver] if receiver else []) + args
    if len(values) != arity:
        given = len(args)
        expected = arity - (1 if receiver else 0)
        raise CelCompileError(f"{node.name}() takes {expected} argument(s), got {given}", node.pos)
    nodes = ([node.target] if node.target else []) + list(node.args)
    compiled = builder(_Site(node.name, values, nodes, limits, receiver is not None, regex))
    return fold(compiled, *values)


def _text(site: _Site, index: int) -> Evaluator:
    arg = site.args[index]
    expect_kind(arg, _TEXT, site.describe(index), site.pos(index))
    get, name = arg.fn, site.name
    if arg.type.kind is Kind.STRING:
        return get
    return lambda a: rt.string_arg(get(a), name)


def _size(site: _Site) -> Compiled:
    (arg,) = site.args
    expect_kind(arg, {Kind.STRING, Kind.LIST, Kind.MAP}, site.describe(0), site.pos(0))
    get = arg.fn
    fn: Evaluator = (lambda a: len(get(a))) if arg.type.known else (lambda a: rt.size(get(a)))
    return Compiled(fn, INT, arg.cost + 1)


def _substring_test(method: str) -> _Builder:
    def build(site: _Site) -> Compiled:
        text, part = _text(site, 0), _text(site, 1)
        haystack, needle = site.args
        fn: Evaluator
        if needle.constant:
            value = needle.value
            if method == "contains":
                fn = lambda a: value in text(a)  # noqa: E731
            elif method == "startswith":
                fn = lambda a: text(a).startswith(value)  # noqa: E731
            else:
                fn = lambda a: text(a).endswith(value)  # noqa: E731
        else:
            unbound = getattr(str, method) if method != "contains" else str.__contains__
            fn = lambda a: unbound(text(a), part(a))  # noqa: E731
        # A prefix or suffix test reads only as many characters as the needle has.
        scanned = (
            haystack.size
            if method == "contains"
            else min(haystack.size, needle.size or haystack.size)
        )
        return Compiled(fn, BOOL, haystack.cost + needle.cost + scan_cost(scanned))

    return build


def _matches(site: _Site) -> Compiled:
    text, subject, pattern = _text(site, 0), site.args[0], site.args[1]
    limit = site.limits.max_regex_length
    fn: Evaluator
    if pattern.constant:
        source = str(pattern.value)
        if len(source) > limit:
            raise CelCompileError(
                f"regex is {len(source)} characters long (limit {limit})", site.pos(1)
            )
        try:
            compile_regex(source)
        except CelEvalError as exc:
            raise CelCompileError(exc.message, site.pos(1)) from None
        fn = _shared_search(site.regex, source, text) or _single_search(source, text)
        pattern_size = len(source)
    else:
        get_pattern = _text(site, 1)

        def fn(a: Activation) -> object:
            source = get_pattern(a)
            if len(source) > limit:
                raise CelEvalError(f"regex is {len(source)} characters long (limit {limit})")
            return compile_regex(source).search(text(a)) is not None  # type: ignore[attr-defined]

        pattern_size = min(pattern.size or limit, limit)
    # RE2 runs in O(text * pattern) at worst; no backtracking blow-up is possible.
    cost = subject.cost + pattern.cost + scan_cost(subject.size) * (1 + pattern_size // 32)
    return Compiled(fn, BOOL, cost)


def _single_search(source: str, text: Evaluator) -> Evaluator:
    search = PatternSet([source]).search
    return lambda a: search(text(a))


def _shared_search(group: RegexGroup | None, source: str, text: Evaluator) -> Evaluator | None:
    """Look the pattern up in the subject's per-activation Set result, computed once."""
    if group is None or source not in group.index:
        return None
    slot, number, matching = group.slot, group.index[source], group.patterns.matching

    def shared(a: Activation) -> object:
        found = a.get(slot, _MISSING)
        if found is _MISSING:
            found = a[slot] = matching(text(a))
        return number in found  # type: ignore[operator]

    return shared


def _transform(function: Callable[[str], str]) -> _Builder:
    def build(site: _Site) -> Compiled:
        text, (arg,) = _text(site, 0), site.args
        return Compiled(
            lambda a: function(text(a)), STRING, arg.cost + scan_cost(arg.size), arg.size
        )

    return build


def _conversion(function: Callable[[object], object], result: CelType, size: int) -> _Builder:
    def build(site: _Site) -> Compiled:
        (arg,) = site.args
        expect_kind(
            arg, {Kind.INT, Kind.DOUBLE, Kind.STRING, Kind.BOOL}, site.describe(0), site.pos(0)
        )
        get = arg.fn
        out_size = size if result.kind is not Kind.STRING else max(size, arg.size)
        return Compiled(
            lambda a: function(get(a)), result, arg.cost + scan_cost(arg.size), out_size
        )

    return build


def _dyn(site: _Site) -> Compiled:
    (arg,) = site.args
    return Compiled(arg.fn, DYN, arg.cost, arg.size, arg.elem_size)


def _in_cidr(site: _Site) -> Compiled:
    address, networks = site.args
    expect_kind(address, _TEXT, site.describe(0), site.pos(0))
    expect_kind(networks, {Kind.STRING, Kind.LIST}, site.describe(1), site.pos(1))
    parse_ip = _ip_parser(address)
    fn: Evaluator
    if networks.constant:
        try:
            ranges = rt.parse_networks(networks.value)
        except CelEvalError as exc:
            raise CelCompileError(exc.message, site.pos(1)) from None
        fn = lambda a: rt.ip_in_networks(parse_ip(a), ranges)  # noqa: E731
        count = len(ranges)
    else:
        get_networks = networks.fn
        fn = lambda a: rt.ip_in_networks(parse_ip(a), rt.parse_networks(get_networks(a)))  # noqa: E731
        count = max(networks.size, 1) * scan_cost(networks.elem_size or 64)
    return Compiled(fn, BOOL, address.cost + networks.cost + 4 + count)


def _ip_parser(address: Compiled) -> Evaluator:
    get = address.fn
    if address.root is None:
        return lambda a: rt.parse_ip(get(a))
    # A root field such as `ip` is parsed once per activation, however many rules test it.
    slot = f"@ip:{address.root}"

    def parse_root(a: Activation) -> object:
        parsed = a.get(slot, _MISSING)
        if parsed is _MISSING:
            parsed = a[slot] = rt.parse_ip(get(a))
        return parsed

    return parse_root


_FUNCTIONS: Final[dict[str, tuple[int, _Builder]]] = {
    "size": (1, _size),
    "contains": (2, _substring_test("contains")),
    "startsWith": (2, _substring_test("startswith")),
    "endsWith": (2, _substring_test("endswith")),
    "matches": (2, _matches),
    "lowerAscii": (1, _transform(rt.lower_ascii)),
    "upperAscii": (1, _transform(rt.upper_ascii)),
    "urlDecode": (1, _transform(rt.url_decode)),
    "int": (1, _conversion(rt.to_int, INT, 0)),
    "double": (1, _conversion(rt.to_double, DOUBLE, 0)),
    "string": (1, _conversion(rt.to_string, STRING, 32)),
    "bool": (1, _conversion(rt.to_bool, BOOL, 0)),
    "dyn": (1, _dyn),
    "inCidr": (2, _in_cidr),
    "cidr": (2, _in_cidr),
}

#: Standard CEL functions outside the subset, with the feature they belong to, so that a
#: refusal names the feature rather than calling a well-known function unknown.
UNSUPPORTED_FUNCTIONS: Final = {
    **dict.fromkeys(
        (
            "timestamp",
            "duration",
            "getFullYear",
            "getMonth",
            "getDayOfYear",
            "getDayOfMonth",
            "getDate",
            "getDayOfWeek",
            "getHours",
            "getMinutes",
            "getSeconds",
            "getMilliseconds",
        ),
        "timestamps and durations",
    ),
    "uint": "unsigned integers",
    "bytes": "bytes",
    "type": "types as values",
    **dict.fromkeys(("optional", "hasValue", "value", "or", "orValue"), "optional values"),
}

#: The function names the compiler accepts, for documentation and error messages.
FUNCTION_NAMES: Final = frozenset(_FUNCTIONS)
