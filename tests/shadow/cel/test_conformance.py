"""Run cel-spec's simple conformance tests (vendored under ./conformance) through our engine.

Each test is classified statically as inside or outside the documented subset (docs/shadow.md,
"CEL conformance"), then run: inside, it must give the expected value or error; outside, it
must be refused with a CelCompileError (a test outside the subset that happens to evaluate
to the right answer counts as passing; a wrong answer or a crash never does).
"""

from __future__ import annotations

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

#: Whole files about features outside the subset: messages, enums, wrappers, timestamps,
#: optionals, unknowns and the extension libraries.
OUTSIDE_FILES = frozenset(
    {
        "bindings_ext",
        "block_ext",
        "encoders_ext",
        "enums",
        "math_ext",
        "namespace",
        "network_ext",
        "optionals",
        "proto2",
        "proto2_ext",
        "proto3",
        "string_ext",
        "timestamps",
        "unknowns",
        "wrappers",
    }
)
#: Source features outside the subset (uint and bytes literals, types as values, messages...).
_OUTSIDE_SOURCE = re.compile(
    r"""\b\d+[uU]\b|0x[0-9a-fA-F]+[uU]|\b[bB][rR]?['"]|\b[rR][bB]['"]|\buint\(|\bbytes\(
    |\btype\(|\btimestamp\(|\bduration\(|google\.|TestAllTypes|NestedTestAllTypes
    |\bnull_type\b|\.get[A-Z]|\bdyn\(\w+\)\s*==\s*type|\b(int|uint|double|string|bool|bytes
    |list|map|null_type|type)\s*(==|!=|\))""",
    re.VERBOSE,
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
    inside: bool
    test: Message

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
            out[to_python(entry["key"][0])] = to_python(entry["value"][0])  # type: ignore[index]
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
                        _inside(path.stem, expr, test),
                        test,
                    )
                )
    return cases


def _inside(file: str, expr: str, test: Message) -> bool:
    if file in OUTSIDE_FILES or _OUTSIDE_SOURCE.search(expr):
        return False
    if "container" in test or "check_only" in test or "typed_result" in test:
        return False
    try:
        if "value" in test:
            to_python(test["value"][0])
        for b in test.get("bindings", []):
            to_python(b["value"][0]["value"][0])
        for decl in test.get("type_env", []):
            if "ident" not in decl:
                return False
            to_type(decl["ident"][0]["type"][0])
    except Unsupported:
        return False
    return True


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
    try:
        compiled = compile_expression(case.expr, CelEnvironment(variables))
    except CelCompileError:
        return "error-ok" if "eval_error" in test else "refused"
    except Exception as exc:
        return f"crash: {type(exc).__name__}: {exc}"
    try:
        result = compiled.evaluate(activation)
    except CelEvalError:
        return "pass" if "eval_error" in test else "wrong"
    except Exception as exc:
        return f"crash: {type(exc).__name__}: {exc}"
    if "value" not in test:
        return "wrong"
    try:
        expected = to_python(test["value"][0])
    except Unsupported:
        return "wrong"
    return "pass" if same(result, expected) else "wrong"


def summary(cases: list[Case], outcomes: dict[str, str]) -> Counter[str]:
    """Counts of inside/outside x outcome."""
    return Counter(
        f"{'inside' if c.inside else 'outside'}:{outcomes[c.id].split(':')[0]}" for c in cases
    )


if __name__ == "__main__":
    all_cases = load_cases()
    results = {c.id: run_case(c) for c in all_cases}
    for c in all_cases:
        if results[c.id] not in ("pass", "refused", "error-ok") or (
            c.inside and results[c.id] != "pass"
        ):
            print(("IN " if c.inside else "OUT"), results[c.id][:90], c.id, repr(c.expr)[:100])
    print(sorted(summary(all_cases, results).items()))
