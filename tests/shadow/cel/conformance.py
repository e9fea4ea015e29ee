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
from tests.shadow.cel.textproto import Message, parse_textproto

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
    except Exception as exc:  # noqa: BLE001 - the harness reports crashes, never hides them
        return f"crash: {type(exc).__name__}: {exc}"
    try:
        result = compiled.evaluate(activation)
    except CelEvalError:
        return "pass" if "eval_error" in test else "wrong"
    except Exception as exc:  # noqa: BLE001
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
