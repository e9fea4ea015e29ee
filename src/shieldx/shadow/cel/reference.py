"""cel-python as a reference: the benchmark's baseline and the tests' oracle.

Not on any hot path. cel-python keeps process-wide state of its own (a singleton parser whose
tree class depends on the runner, Environment() raises the recursion limit, CompiledRunner
execs in its own module's globals); this module is the only place that touches it: it
switches the parser's tree class through cel-python's documented reset
(`CELParser.CEL_PARSER = None`) and, for CompiledRunner, adds the name `shieldx` to
celpy.evaluation's globals so that the transpiled code can call our extension functions.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, Literal

import celpy
import celpy.evaluation
from celpy import celtypes
from celpy.adapter import json_to_cel
from celpy.celparser import CELParser

from shieldx.shadow.cel import runtime as rt
from shieldx.shadow.cel.types import CelEvalError

RunnerKind = Literal["interpreted", "compiled"]
_RUNNERS: dict[RunnerKind, type[celpy.Runner]] = {
    "interpreted": celpy.InterpretedRunner,
    "compiled": celpy.CompiledRunner,
}


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"no such overload for {type(value).__name__}")
    return str(value)


# Module-level functions, not closures: CompiledRunner refers to them by qualified name.
def url_decode(value: object) -> celtypes.StringType:
    """urlDecode() for cel-python."""
    return celtypes.StringType(rt.url_decode(_text(value)))


def lower_ascii(value: object) -> celtypes.StringType:
    """lowerAscii() for cel-python."""
    return celtypes.StringType(rt.lower_ascii(_text(value)))


def upper_ascii(value: object) -> celtypes.StringType:
    """upperAscii() for cel-python."""
    return celtypes.StringType(rt.upper_ascii(_text(value)))


def in_cidr(address: object, networks: object) -> celtypes.BoolType:
    """inCidr() / cidr() for cel-python."""
    plain_networks = [str(n) for n in networks] if isinstance(networks, list) else str(networks)
    try:
        ranges = rt.parse_networks(plain_networks)
        return celtypes.BoolType(rt.ip_in_networks(rt.parse_ip(str(address)), ranges))
    except CelEvalError as exc:
        # cel-python turns ValueError from a function into a CEL error value.
        raise ValueError(str(exc)) from None


EXTENSIONS: dict[str, Callable[..., Any]] = {
    "urlDecode": url_decode,
    "lowerAscii": lower_ascii,
    "upperAscii": upper_ascii,
    "inCidr": in_cidr,
    "cidr": in_cidr,
}


def environment(runner: RunnerKind = "interpreted") -> celpy.Environment:
    """A cel-python environment for the runner, with the parser built for its tree class."""
    runner_class = _RUNNERS[runner]
    if runner == "compiled":
        # CompiledRunner execs its transpiled code in celpy.evaluation's globals and names our
        # extension functions "shieldx.shadow.cel.reference.<name>": make that name resolve.
        vars(celpy.evaluation).setdefault("shieldx", importlib.import_module("shieldx"))
    parser = CELParser.CEL_PARSER
    if parser is not None and parser.options.tree_class is not runner_class.tree_node_class:
        CELParser.CEL_PARSER = None
    return celpy.Environment(runner_class=runner_class)


def program(
    expression: str, runner: RunnerKind = "interpreted", env: celpy.Environment | None = None
) -> celpy.Runner:
    """Compile an expression with cel-python, with our extension functions bound."""
    env = env or environment(runner)
    return env.program(env.compile(expression), functions=EXTENSIONS)


def activation(record: Mapping[str, object]) -> dict[str, celtypes.Value]:
    """Convert a record (or any JSON-like variables) to cel-python values."""
    return {name: json_to_cel(value) for name, value in record.items()}  # type: ignore[arg-type]


def evaluate(runner: celpy.Runner, variables: Mapping[str, celtypes.Value]) -> object:
    """Evaluate with cel-python and return a plain Python value; any failure is a CelEvalError."""
    try:
        return plain(runner.evaluate(dict(variables)))
    except Exception as exc:  # cel-python raises many kinds; all of them mean "error"
        raise CelEvalError(f"cel-python: {exc}") from exc


def plain(value: object) -> object:
    """cel-python's value as the plain Python value our engine would produce."""
    if isinstance(value, celtypes.BoolType):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    return value
