"""CEL static types, runtime type names and the two CEL error classes."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

#: The activation an evaluator reads: root variables plus private slots (loop variables,
#: memoised sub-expressions) under keys that start with "@" and so cannot clash with a CEL
#: identifier. It is created per evaluation and never shared.
Activation = MutableMapping[str, object]
#: A compiled closure. Its result is a CEL value, dynamically typed by nature, hence Any: the
#: compiler has already checked (statically or with a run-time guard) what the closure does.
Evaluator = Callable[[Activation], Any]

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1


class Kind(StrEnum):
    """The kinds of CEL value this engine supports."""

    BOOL = "bool"
    INT = "int"
    DOUBLE = "double"
    STRING = "string"
    NULL = "null_type"
    LIST = "list"
    MAP = "map"
    DYN = "dyn"


@dataclass(frozen=True, slots=True)
class CelType:
    """A static CEL type; DYN means "only known at run time"."""

    kind: Kind
    elem: CelType | None = None
    key: CelType | None = None

    def __str__(self) -> str:
        if self.kind is Kind.LIST:
            return f"list({self.elem})"
        if self.kind is Kind.MAP:
            return f"map({self.key}, {self.elem})"
        return self.kind.value

    @property
    def known(self) -> bool:
        """True when the kind is fixed at compile time."""
        return self.kind is not Kind.DYN

    @property
    def element(self) -> CelType:
        """The element type of a list or the value type of a map (DYN when unknown)."""
        return self.elem or DYN


BOOL: Final = CelType(Kind.BOOL)
INT: Final = CelType(Kind.INT)
DOUBLE: Final = CelType(Kind.DOUBLE)
STRING: Final = CelType(Kind.STRING)
NULL: Final = CelType(Kind.NULL)
DYN: Final = CelType(Kind.DYN)


def list_of(elem: CelType) -> CelType:
    """The type list(elem)."""
    return CelType(Kind.LIST, elem=elem)


def map_of(key: CelType, value: CelType) -> CelType:
    """The type map(key, value)."""
    return CelType(Kind.MAP, elem=value, key=key)


def unify(types: list[CelType]) -> CelType:
    """The common type of several values: the type itself when all agree, DYN otherwise."""
    if not types:
        return DYN
    first = types[0]
    return first if all(t == first for t in types) else DYN


_RUNTIME_KINDS: Final[dict[type, Kind]] = {
    bool: Kind.BOOL,
    int: Kind.INT,
    float: Kind.DOUBLE,
    str: Kind.STRING,
    type(None): Kind.NULL,
    list: Kind.LIST,
    tuple: Kind.LIST,
    dict: Kind.MAP,
}


def kind_of(value: object) -> Kind:
    """The CEL kind of a runtime value (exact type match: a bool is never an int)."""
    kind = _RUNTIME_KINDS.get(type(value))
    if kind is None:
        raise CelEvalError(f"unsupported value of Python type {type(value).__name__}")
    return kind


@dataclass(frozen=True, slots=True)
class Position:
    """A 1-based line and column in the expression source."""

    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.line}:{self.column}"


NO_POSITION: Final = Position(1, 1)


class CelCompileError(ValueError):
    """An expression that cannot be compiled: syntax, unknown name, type or cost."""

    def __init__(self, message: str, position: Position = NO_POSITION) -> None:
        super().__init__(f"{position}: {message}")
        self.message = message
        self.line = position.line
        self.column = position.column


class CelEvalError(Exception):
    """A run-time CEL error value (missing key, overflow, no such overload, ...)."""

    def __init__(self, message: str, position: Position | None = None) -> None:
        super().__init__(f"{position}: {message}" if position else message)
        self.message = message


def overload_error(operator: str, *values: object) -> CelEvalError:
    """The error for an operator applied to values of kinds it does not accept."""
    kinds = ", ".join(_kind_name(v) for v in values)
    return CelEvalError(f"no matching overload for '{operator}' applied to ({kinds})")


def _kind_name(value: object) -> str:
    kind = _RUNTIME_KINDS.get(type(value))
    return kind.value if kind else type(value).__name__


def check_int64(value: int) -> int:
    """Return value, or raise the CEL overflow error when it leaves the int64 range."""
    if INT64_MIN <= value <= INT64_MAX:
        return value
    raise CelEvalError("integer overflow")


@dataclass(frozen=True, slots=True)
class Variable:
    """A declared root variable: its type and the largest value the caller promises.

    `size` bounds a string's length or a list's or map's entry count, `elem_size` the same for
    each element or map value; the static cost bound is only as sound as these promises, so the
    code that builds activations (normalize_record, normalize_context) enforces them.
    """

    type: CelType
    size: int = 0
    elem_size: int = 0


@dataclass(frozen=True, slots=True)
class CelLimits:
    """Compile-time limits: source size, nesting, regex length and the per-expression cost."""

    max_source_length: int = 4096
    max_depth: int = 48
    max_regex_length: int = 1024
    max_cost: int = 200_000
    #: Bounds assumed for values whose size nothing declares (fields of a dyn map, ...).
    dyn_string_size: int = 1024
    dyn_collection_size: int = 64


@dataclass(frozen=True, slots=True)
class Compiled:
    """A compiled sub-expression: its closure, static type and static bounds.

    `cost` bounds the work of one evaluation in abstract units (one unit is about one closure
    call; scanning 16 characters of a string costs one more); `size` bounds the value's length
    (string) or entry count (list, map) and `elem_size` the size of each element.
    """

    fn: Evaluator
    type: CelType
    cost: int = 1
    size: int = 0
    elem_size: int = 0
    constant: bool = False
    value: object = None
    #: The declared root variable this node reads as is, if any (lets callers memoise parses).
    root: str | None = None


def scan_cost(chars: int) -> int:
    """The cost of one linear pass over a string of `chars` characters."""
    return 1 + chars // 16


def constant(value: object, type_: CelType, elem_size: int = 0) -> Compiled:
    """A compiled constant; its size is known exactly."""
    size = len(value) if isinstance(value, str | tuple | list | dict) else 0
    return Compiled(lambda _a: value, type_, 1, size, elem_size, constant=True, value=value)


def literal_type(value: object) -> CelType:
    """The static type of a constant value."""
    kind = kind_of(value)
    if kind is Kind.LIST:
        return CelType(Kind.LIST, elem=unify([literal_type(v) for v in value]))  # type: ignore[attr-defined]
    if kind is Kind.MAP:
        return CelType(Kind.MAP, elem=DYN, key=DYN)
    return CelType(kind)


def expect_kind(
    compiled: Compiled, kinds: set[Kind] | frozenset[Kind], what: str, pos: Position
) -> None:
    """Raise a compile error when a statically known type is not one of `kinds`."""
    if compiled.type.known and compiled.type.kind not in kinds:
        wanted = " or ".join(sorted(k.value for k in kinds))
        raise CelCompileError(f"{what} must be {wanted}, not {compiled.type}", pos)


def fold(result: Compiled, *inputs: Compiled) -> Compiled:
    """Replace a node whose inputs are all constants by its value (or leave a run-time error)."""
    if not all(i.constant for i in inputs):
        return result
    try:
        value = result.fn({})
    except CelEvalError:
        return result
    return constant(value, result.type, result.elem_size)
