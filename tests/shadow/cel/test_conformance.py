"""Run cel-spec's simple conformance tests (vendored under ./conformance) through our engine.

Each test is classified statically as inside or outside the documented subset (docs/shadow.md,
"CEL conformance"), then run: inside, it must give the expected value or error; outside, it
must be refused with a CelCompileError (a test outside the subset that happens to evaluate
to the right answer counts as passing; a wrong answer or a crash never does).
"""

from __future__ import annotations

import functools
import math
import pathlib
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from shieldx.shadow.cel import CelCompileError, CelEnvironment, CelEvalError, compile_expression
from shieldx.shadow.cel.types import (
    BOOL,
    DOUBLE,
    DYN,
    INT,
    NULL,
    STRING,
    CelType,
    Variable,
    list_of,
    map_of,
)

# --- the textproto reader ---------------------------------------------------
#
# A reader for the protobuf text format subset that cel-spec's conformance files use.
#
# Why not protobuf's text_format: it needs the compiled cel-spec descriptors (checked.proto,
# value.proto, simple.proto and their google/api and cel imports), i.e. protoc or grpcio-tools
# at build time plus generated modules to keep in sync; the files only use messages, scalars,
# enums, comments and `[type.url] { ... }` Any bodies, which this reader turns into plain
# dicts (every field a list of values, as a field may repeat) in ~80 lines.


Message = dict[str, list[Any]]

_TOKEN = re.compile(
    r"""\s+|\#[^\n]*
    |(?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
    |(?P<ext>\[[A-Za-z][\w./]*\])
    |(?P<punct>[{}:<>\[\],;])
    |(?P<word>[-+]?[A-Za-z0-9_.+-]+)""",
    re.VERBOSE,
)
_OCTAL = re.compile(r"\\([0-7]{1,3})")
_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ValueError(f"textproto: cannot read {text[pos : pos + 30]!r}")
        pos = m.end()
        if m.lastgroup:
            out.append((m.lastgroup, m.group(m.lastgroup)))
    return out


def _unquote(token: str) -> bytes:
    """Decode a text-format string literal to bytes (escapes are byte-oriented)."""
    body = token[1:-1]
    out = bytearray()
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        n = body[i + 1]
        if n in "01234567":
            j = i + 1
            while j < len(body) and j < i + 4 and body[j] in "01234567":
                j += 1
            out.append(int(body[i + 1 : j], 8) & 0xFF)
            i = j
        elif n in "xX":
            j = i + 2
            while j < len(body) and j < i + 4 and body[j] in "0123456789abcdefABCDEF":
                j += 1
            out.append(int(body[i + 2 : j], 16))
            i = j
        elif n in "uU":
            width = 4 if n == "u" else 8
            out += chr(int(body[i + 2 : i + 2 + width], 16)).encode()
            i += 2 + width
        else:
            out += _SIMPLE.get(n, n).encode()
            i += 2
    return bytes(out)


class _Reader:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def message(self, close: str | None) -> Message:
        msg: Message = {}
        while True:
            tok = self.peek()
            if tok is None or tok[1] == close:
                if close is not None:
                    self.take()
                return msg
            kind, name = self.take()
            if kind == "punct" and name in ",;":
                continue
            if self.peek() == ("punct", ":"):
                self.take()
            if self.peek() == ("punct", "["):
                self.take()
                while self.peek() != ("punct", "]"):
                    msg.setdefault(name, []).append(self.value())
                    if self.peek() == ("punct", ","):
                        self.take()
                self.take()
            else:
                msg.setdefault(name, []).append(self.value())

    def value(self) -> Any:
        kind, tok = self.take()
        if tok in ("{", "<"):
            return self.message("}" if tok == "{" else ">")
        if kind == "str":
            data = _unquote(tok)
            while self.peek() and self.peek()[0] == "str":  # type: ignore[index]
                data += _unquote(self.take()[1])  # adjacent literals concatenate
            return data
        return tok  # numbers, enums and bools stay words: the caller knows the field


def parse_textproto(text: str) -> Message:
    """Parse a whole text-format file into nested dicts of field -> list of values."""
    return _Reader(text).message(None)


# --- the harness ------------------------------------------------------------

DATA = pathlib.Path(__file__).parent / "conformance"

#: Whole files about features outside the subset, with the feature each is about.
OUTSIDE_FILES: dict[str, str] = {
    "bindings_ext": "cel.bind",
    "block_ext": "cel.block",
    "encoders_ext": "the encoders extension",
    "enums": "enums",
    "math_ext": "the math extension",
    "namespace": "containers (namespaces)",
    "network_ext": "the network extension",
    "optionals": "optional values",
    "proto2": "protobuf messages",
    "proto2_ext": "protobuf extensions",
    "proto3": "protobuf messages",
    "string_ext": "the strings extension",
    "timestamps": "timestamps and durations",
    "unknowns": "unknown values",
    "wrappers": "protobuf wrapper types",
}
#: Source features outside the subset, each with its name (first match wins).
OUTSIDE_SOURCE: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        ("unsigned integers", r"\b\d+[uU]\b|0x[0-9a-fA-F]+[uU]\b|\buint\("),
        ("bytes", r"\b[bB][rR]?['\"]|\b[rR][bB]['\"]|\bbytes\("),
        ("timestamps and durations", r"\btimestamp\(|\bduration\("),
        ("protobuf messages", r"google\.|TestAllTypes|\w\{"),
        (
            "types as values",
            r"\btype\(|\bnull_type\b|\b(int|uint|double|string|bool|bytes|list|map|type)\s*(==|!=|\)|$)",
        ),
        (
            "two-variable macros",
            r"\.(exists|all|existsOne|exists_one|transformList|transformMap)\(\w+,\s*\w+,",
        ),
        ("dotted variable names", r"^a\.b\.c$"),
    )
)
#: Tests inside the files and free of the features above that rely on dynamic typing where
#: we check statically by design: undeclared names and functions and operands of a type the
#: operator never accepts are compile errors here (the conformance suite expects run-time
#: errors absorbed by `||`/`&&`, e.g. `x || true` with `x` unbound, `false && 32`).
STATIC_CHECKS = "static checking (undeclared names, ill-typed operands)"
_STATICALLY_REFUSED = re.compile(
    r"^(x \|\| true|f_unknown\(17\) \|\| true|a\.\w+\(\) \|\| true"
    r"|false && 32|'horses' && false|true \|\| 32|'horses' \|\| true)$"
)


class Unsupported(Exception):
    """A value or type of a kind outside the subset."""


@dataclass
class Case:
    """One conformance test with its classification."""

    file: str
    section: str
    name: str
    expr: str
    outside: str | None
    test: Message

    @property
    def inside(self) -> bool:
        """Whether the test is inside the documented subset."""
        return self.outside is None

    @property
    def id(self) -> str:
        """file/section/name."""
        return f"{self.file}/{self.section}/{self.name}"


def _one(msg: Message, key: str, default: Any = None) -> Any:
    values = msg.get(key)
    return values[0] if values else default


def to_python(value: Message) -> object:
    """A cel.expr.Value as the Python value our engine produces."""
    ((kind, (raw,)),) = value.items()
    if kind == "int64_value":
        return int(raw)
    if kind == "double_value":
        return float(raw)
    if kind == "string_value":
        return raw.decode()
    if kind == "bool_value":
        return raw == "true"
    if kind == "null_value":
        return None
    if kind == "list_value":
        return [to_python(v) for v in raw.get("values", [])]
    if kind == "map_value":
        out: dict[object, object] = {}
        for entry in raw.get("entries", []):
            out[to_python(entry["key"][0])] = to_python(entry["value"][0])
        return out
    raise Unsupported(kind)


_PRIMITIVE = {"INT64": INT, "DOUBLE": DOUBLE, "STRING": STRING, "BOOL": BOOL}


def to_type(t: Message) -> CelType:
    """A cel.expr.Type as our static type."""
    if "primitive" in t:
        prim = t["primitive"][0]
        if prim not in _PRIMITIVE:
            raise Unsupported(prim)
        return _PRIMITIVE[prim]
    if "null" in t:
        return NULL
    if "dyn" in t:
        return DYN
    if "list_type" in t:
        return list_of(to_type(t["list_type"][0]["elem_type"][0]))
    if "map_type" in t:
        m = t["map_type"][0]
        return map_of(to_type(m["key_type"][0]), to_type(m["value_type"][0]))
    raise Unsupported(next(iter(t)))


def _value_type(value: object) -> CelType:
    types = {bool: BOOL, int: INT, float: DOUBLE, str: STRING, type(None): NULL}
    if type(value) in types:
        return types[type(value)]
    return list_of(DYN) if isinstance(value, list) else map_of(DYN, DYN)


def load_cases() -> list[Case]:
    """Every test of every vendored file, classified."""
    cases: list[Case] = []
    for path in sorted(DATA.glob("*.textproto")):
        doc = parse_textproto(path.read_text())
        for section in doc.get("section", []):
            for test in section.get("test", []):
                name = _one(test, "name", b"").decode()
                expr = _one(test, "expr", b"").decode()
                cases.append(
                    Case(
                        path.stem,
                        _one(section, "name", b"").decode(),
                        name,
                        expr,
                        outside_feature(path.stem, expr, test),
                        test,
                    )
                )
    return cases


def outside_feature(file: str, expr: str, test: Message) -> str | None:
    """The unsupported feature a test needs, or None when it is inside the subset."""
    if file in OUTSIDE_FILES:
        return OUTSIDE_FILES[file]
    if "container" in test:
        return "containers (namespaces)"
    if "check_only" in test or "typed_result" in test:
        return "type-checker results"
    for name, pattern in OUTSIDE_SOURCE:
        if pattern.search(expr):
            return name
    if _STATICALLY_REFUSED.match(expr):
        return STATIC_CHECKS
    try:
        if "value" in test:
            to_python(test["value"][0])
        for b in test.get("bindings", []):
            to_python(b["value"][0]["value"][0])
        for decl in test.get("type_env", []):
            if "ident" not in decl:
                return "function declarations"
            to_type(decl["ident"][0]["type"][0])
    except Unsupported as exc:
        return f"values of type {exc}"
    return None


def same(a: object, b: object) -> bool:
    """Strict CEL value identity: types must match exactly (1 is not 1.0, nor true)."""
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)  # type: ignore[arg-type]
    return a == b


def run_case(case: Case) -> str:
    """The outcome: pass, refused (clean compile error), wrong, or crash: <exception>."""
    test = case.test
    try:
        variables: dict[str, Variable] = {}
        activation: dict[str, object] = {}
        for decl in test.get("type_env", []):
            if "ident" not in decl:
                raise Unsupported("function declaration")
            ident = decl["ident"][0]
            name = decl["name"][0].decode()
            variables[name] = Variable(to_type(ident["type"][0]), 1024, 1024)
        for b in test.get("bindings", []):
            name = b["key"][0].decode()
            value = to_python(b["value"][0]["value"][0])
            activation[name] = value
            variables.setdefault(name, Variable(_value_type(value), 1024, 1024))
    except Unsupported:
        variables = {}
    if "container" in test and any("." in name for name in (*variables, *activation)):
        # Our API has no container to resolve `y` as `com.example.y`: not expressible.
        return "n/a"
    try:
        compiled = compile_expression(case.expr, CelEnvironment(variables))
    except CelCompileError:
        return "error-ok" if "eval_error" in test else "refused"
    except Exception as exc:
        return f"crash: {type(exc).__name__}: {exc}"
    if "check_only" in test:
        return "unchecked"  # only the deduced type is given: we have no type-checker output
    try:
        result = compiled.evaluate(activation)
    except CelEvalError:
        return "pass" if "eval_error" in test else "wrong"
    except Exception as exc:
        return f"crash: {type(exc).__name__}: {exc}"
    if "value" in test:
        try:
            expected = to_python(test["value"][0])
        except Unsupported:
            return "wrong"
    elif "typed_result" in test and "result" in test["typed_result"][0]:
        expected = to_python(test["typed_result"][0]["result"][0])
    elif "typed_result" in test:
        return "unchecked"
    else:
        expected = True  # the suite's default result
    return "pass" if same(result, expected) else "wrong"


def summary(cases: list[Case], outcomes: dict[str, str]) -> Counter[str]:
    """Counts of inside/outside x outcome."""
    return Counter(
        f"{'inside' if c.inside else 'outside'}:{outcomes[c.id].split(':')[0]}" for c in cases
    )


#: Outcomes that are correct for a test inside the subset ("error-ok": an expected error,
#: raised at compile time).
INSIDE_OK = frozenset({"pass", "error-ok"})
#: Outcomes acceptable outside it: a clean refusal, or the right answer all the same; "n/a"
#: needs a container our API does not have, "unchecked" only gives a type-checker result.
OUTSIDE_OK = frozenset({"refused", "error-ok", "pass", "n/a", "unchecked"})
DOCS = pathlib.Path(__file__).parents[3] / "docs" / "shadow.md"


@functools.cache
def outcomes() -> tuple[list[Case], dict[str, str]]:
    """Every case and its outcome, computed once per test session."""
    cases = load_cases()
    return cases, {c.id: run_case(c) for c in cases}


def test_the_vendored_suite_is_read_whole() -> None:
    cases, _ = outcomes()
    assert len(list(DATA.glob("*.textproto"))) == 30
    assert len({c.file for c in cases}) == 29  # unknowns.textproto holds no test yet
    assert len(cases) > 2400
    assert len({c.id for c in cases if c.inside}) > 600


def test_every_case_inside_the_subset_passes() -> None:
    cases, results = outcomes()
    failing = {c.id: (c.expr, results[c.id]) for c in cases if c.inside}
    failing = {k: v for k, v in failing.items() if v[1] not in INSIDE_OK}
    assert failing == {}


def test_cases_outside_the_subset_are_refused_never_answered_wrongly() -> None:
    cases, results = outcomes()
    bad = {c.id: (c.expr, results[c.id]) for c in cases if not c.inside}
    bad = {k: v for k, v in bad.items() if v[1] not in OUTSIDE_OK}
    assert bad == {}


def test_docs_record_the_current_counts() -> None:
    cases, results = outcomes()
    inside = [c for c in cases if c.inside]
    passed = sum(results[c.id] in INSIDE_OK for c in inside)
    line = f"passes {passed} of the {len(inside)} tests inside the subset"
    print(
        f"CEL conformance: {line}; {len(cases) - len(inside)} outside it",
        sorted(summary(cases, results).items()),
    )
    assert line in " ".join(DOCS.read_text().split())


def test_textproto_reader_handles_the_format_subset() -> None:
    text = r"""# comment
    name: "a\"b\n" 'c' section { test: { expr: '\'x\'' value < int64_value: -3 > }
    test { list: [1, 2] [type.googleapis.com/x.Y] { f: ENUM } } }"""
    doc = parse_textproto(text)
    assert doc["name"] == [b'a"b\nc']
    first, second = doc["section"][0]["test"]
    assert first == {"expr": [b"'x'"], "value": [{"int64_value": ["-3"]}]}
    assert second["list"] == ["1", "2"]
    assert second["[type.googleapis.com/x.Y]"] == [{"f": ["ENUM"]}]


if __name__ == "__main__":
    all_cases = load_cases()
    results = {c.id: run_case(c) for c in all_cases}
    for c in all_cases:
        if results[c.id] not in ("pass", "refused", "error-ok") or (
            c.inside and results[c.id] != "pass"
        ):
            print(("IN " if c.inside else "OUT"), results[c.id][:90], c.id, repr(c.expr)[:100])
    print(sorted(summary(all_cases, results).items()))
