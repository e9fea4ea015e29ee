"""CEL run-time semantics on plain Python values: operators, indexing, functions, CIDR, RE2.

Values are bool, int, float, str, None, list/tuple and dict. Type dispatch is on the exact
Python type, so `True` is never an int. Every failure raises CelEvalError.
"""

from __future__ import annotations

import ipaddress
import math
import re
import socket
import urllib.parse
from collections.abc import Sequence
from typing import Any, Final

from shieldx.shadow.cel.types import INT64_MAX, INT64_MIN, CelEvalError, check_int64, overload_error

LIST_TYPES: Final = (list, tuple)
_ORDERED: Final = frozenset({int, float, str, bool})
_NUMBERS: Final = frozenset({int, float})
_MAP_KEY_TYPES: Final = frozenset({str, int, bool})
_INT_TEXT: Final = re.compile(r"[+-]?[0-9]+")
_DOUBLE_TEXT: Final = re.compile(
    r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|[+-]?(inf|infinity|nan)", re.I
)
_ASCII_LOWER: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_ASCII_UPPER: Final = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")

_V4_MAPPED: Final = b"\x00" * 10 + b"\xff\xff"

Network = tuple[int, int, int]  # (IP version, first address, last address)


def add(a: object, b: object) -> object:
    """`a + b`: int (checked), double, string and list concatenation."""
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        return check_int64(a + b)  # type: ignore[operator]
    if ta is tb and (ta is float or ta is str):
        return a + b  # type: ignore[operator]
    if ta in LIST_TYPES and tb in LIST_TYPES:
        return [*a, *b]  # type: ignore[misc]
    raise overload_error("_+_", a, b)


def subtract(a: object, b: object) -> object:
    """`a - b` on two ints (checked) or two doubles."""
    ta = type(a)
    if ta is type(b) and ta is int:
        return check_int64(a - b)  # type: ignore[operator]
    if ta is type(b) and ta is float:
        return a - b  # type: ignore[operator]
    raise overload_error("_-_", a, b)


def multiply(a: object, b: object) -> object:
    """`a * b` on two ints (checked) or two doubles."""
    ta = type(a)
    if ta is type(b) and ta is int:
        return check_int64(a * b)  # type: ignore[operator]
    if ta is type(b) and ta is float:
        return a * b  # type: ignore[operator]
    raise overload_error("_*_", a, b)


def divide(a: object, b: object) -> object:
    """`a / b`: ints truncate toward zero (error on zero), doubles follow IEEE 754."""
    if type(a) is int and type(b) is int:
        if b == 0:
            raise CelEvalError("division by zero")
        quotient = abs(a) // abs(b)
        return check_int64(-quotient if (a < 0) != (b < 0) else quotient)
    if type(a) is float and type(b) is float:
        if b == 0.0:
            if a == 0.0 or math.isnan(a):
                return math.nan
            return math.copysign(math.inf, a) * math.copysign(1.0, b)
        return a / b
    raise overload_error("_/_", a, b)


def modulo(a: object, b: object) -> object:
    """`a % b` on ints: the sign follows the dividend; error on zero."""
    if type(a) is int and type(b) is int:
        if b == 0:
            raise CelEvalError("modulus by zero")
        remainder = abs(a) % abs(b)
        return -remainder if a < 0 else remainder
    raise overload_error("_%_", a, b)


def negate(a: object) -> object:
    """Unary minus on an int (checked) or a double."""
    if type(a) is int:
        return check_int64(-a)
    if type(a) is float:
        return -a
    raise overload_error("-_", a)


def logical_not(a: object) -> bool:
    """`!a` on a bool."""
    if a is True:
        return False
    if a is False:
        return True
    raise overload_error("!_", a)


def equals(a: object, b: object) -> bool:
    """`a == b`: numbers compare across int and double; values of different kinds are unequal."""
    ta, tb = type(a), type(b)
    if ta is tb:
        if ta is dict:
            return _map_equals(a, b)  # type: ignore[arg-type]
        if ta is list or ta is tuple:
            return _sequence_equals(a, b)  # type: ignore[arg-type]
        return a == b
    if ta in _NUMBERS and tb in _NUMBERS:
        return float(a) == float(b)  # type: ignore[arg-type]
    if ta in LIST_TYPES and tb in LIST_TYPES:
        return _sequence_equals(a, b)  # type: ignore[arg-type]
    return False


def _sequence_equals(a: Sequence[object], b: Sequence[object]) -> bool:
    if len(a) != len(b):
        return False
    return _all_equal(zip(a, b, strict=True))


def _map_equals(a: dict[object, object], b: dict[object, object]) -> bool:
    if a.keys() != b.keys():
        return False
    if not all(type(k) is str for k in a) and {(type(k), k) for k in a} != {
        (type(k), k) for k in b
    }:
        return False  # {true: 1} and {1: 1}: Python's True == 1 must not make them equal
    return _all_equal((a[k], b[k]) for k in a)


def _all_equal(pairs: object) -> bool:
    # CEL's && over the element comparisons: one unequal pair decides even if others erred.
    error: CelEvalError | None = None
    for x, y in pairs:  # type: ignore[attr-defined]
        try:
            if not equals(x, y):
                return False
        except CelEvalError as exc:
            error = exc
    if error is not None:
        raise error
    return True


def ordered(op: str, a: object, b: object) -> tuple[Any, Any]:
    """The operands of `a op b` made comparable (int and double meet as doubles), or raise."""
    ta = type(a)
    if ta is type(b) and ta in _ORDERED:
        return a, b
    if ta in _NUMBERS and type(b) in _NUMBERS:
        return float(a), float(b)  # type: ignore[arg-type]
    raise overload_error(op, a, b)


def contained_in(item: object, container: object) -> bool:
    """`item in container`: list membership by CEL equality, or map key presence."""
    if type(container) is dict:
        return has_key(container, map_key(item, "_in_"))
    if type(container) in LIST_TYPES:
        error: CelEvalError | None = None
        for element in container:  # type: ignore[attr-defined]
            try:
                if equals(item, element):
                    return True
            except CelEvalError as exc:
                error = exc
        if error is not None:
            raise error
        return False
    raise overload_error("_in_", item, container)


def has_key(container: dict[object, object], key: object) -> bool:
    """Whether a map holds exactly this key: an int key never finds a bool one, nor the reverse."""
    if key not in container:
        return False
    if type(key) is str:
        return True
    # Python's True == 1 (and hash(True) == hash(1)): confirm the stored key's type.
    return any(k == key and type(k) is type(key) for k in container)


def map_key(key: object, op: str) -> object:
    """Return key when it may index a map (a string, an int or a bool), else raise."""
    if type(key) not in _MAP_KEY_TYPES:
        raise overload_error(op, key)
    return key


def index(container: object, key: object) -> object:
    """`container[key]` on a map (missing key is an error) or a list (bounds checked)."""
    if type(container) is dict:
        if type(key) is str:
            try:
                return container[key]
            except KeyError:
                raise CelEvalError(f"no such key: {key!r}") from None
        if has_key(container, map_key(key, "_[_]")):
            return container[key]
        raise CelEvalError(f"no such key: {key!r}")
    if type(container) in LIST_TYPES:
        if type(key) is float and key.is_integer():
            key = int(key)  # a dyn index may be a whole double (the spec's numeric index)
        if type(key) is not int:
            raise overload_error("_[_]", container, key)
        if 0 <= key < len(container):  # type: ignore[arg-type]
            return container[key]  # type: ignore[index]
        raise CelEvalError(f"index {key} out of range")
    raise overload_error("_[_]", container, key)


def select(container: object, field: str) -> object:
    """`container.field` on a map."""
    if type(container) is not dict:
        raise CelEvalError(f"field '{field}' needs a map, not another kind of value")
    try:
        return container[field]
    except KeyError:
        raise CelEvalError(f"no such key: {field!r}") from None


def has_field(container: object, field: str) -> bool:
    """`has(container.field)` on a map."""
    if type(container) is not dict:
        raise CelEvalError(f"has() needs a map, not a value without field '{field}'")
    return field in container


def size(value: object) -> int:
    """`size(value)` of a string (code points), list or map."""
    if type(value) in (str, list, tuple, dict):
        return len(value)  # type: ignore[arg-type]
    raise overload_error("size", value)


def string_arg(value: object, function: str) -> str:
    """Return value when it is a string, else raise the overload error for function."""
    if type(value) is not str:
        raise overload_error(function, value)
    return value


def lower_ascii(value: str) -> str:
    """Lower-case the ASCII letters only (CEL strings extension semantics)."""
    return value.lower() if value.isascii() else value.translate(_ASCII_LOWER)


def upper_ascii(value: str) -> str:
    """Upper-case the ASCII letters only."""
    return value.upper() if value.isascii() else value.translate(_ASCII_UPPER)


def url_decode(value: str) -> str:
    """Decode %XX escapes and '+' as space (form decoding, like ModSecurity's urlDecode)."""
    if "%" not in value and "+" not in value:
        return value
    return urllib.parse.unquote_plus(value, errors="replace")


def to_int(value: object) -> int:
    """CEL int(): from int, double (truncated, range checked) or a decimal string."""
    if type(value) is int:
        return value
    if type(value) is float:
        if not math.isfinite(value):
            raise CelEvalError("cannot convert a non-finite double to int")
        # The spec's range is open at both ends: -2**63 as a double is already out of range.
        if not float(INT64_MIN) < value < float(INT64_MAX):
            raise CelEvalError("integer overflow")
        return math.trunc(value)
    if type(value) is str and _INT_TEXT.fullmatch(value):
        return check_int64(int(value))
    raise CelEvalError(f"cannot convert {value!r} to int")


def to_double(value: object) -> float:
    """CEL double(): from double, int or a numeric string."""
    if type(value) is float:
        return value
    if type(value) is int:
        return float(value)
    if type(value) is str and _DOUBLE_TEXT.fullmatch(value):
        return float(value)
    raise CelEvalError(f"cannot convert {value!r} to double")


_BOOL_TEXT: Final = {
    **dict.fromkeys(("1", "t", "true", "TRUE", "True"), True),
    **dict.fromkeys(("0", "f", "false", "FALSE", "False"), False),
}


def to_bool(value: object) -> bool:
    """CEL bool(): from bool or one of the spec's spellings (1, t, true, TRUE, True, 0, f, ...)."""
    if value is True or value is False:
        return value
    if type(value) is str and value in _BOOL_TEXT:
        return _BOOL_TEXT[value]
    raise CelEvalError(f"cannot convert {value!r} to bool")


def to_string(value: object) -> str:
    """CEL string(): from string, int, double or bool."""
    if type(value) is str:
        return value
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) in (int, float):
        return str(value)
    raise CelEvalError(f"cannot convert a {type(value).__name__} to string")


def parse_networks(value: object) -> tuple[Network, ...]:
    """Parse a CIDR string or a list of them into (version, first, last) ranges."""
    texts = [value] if type(value) is str else value
    if type(texts) not in LIST_TYPES:
        raise CelEvalError("a CIDR must be a string or a list of strings")
    networks = []
    for text in texts:  # type: ignore[attr-defined]
        try:
            net = ipaddress.ip_network(string_arg(text, "cidr"), strict=False)
        except ValueError:
            raise CelEvalError(f"invalid CIDR {text!r}") from None
        networks.append((net.version, int(net.network_address), int(net.broadcast_address)))
    return tuple(networks)


def parse_ip(value: object) -> tuple[int, int]:
    """Parse an IP address into (version, integer); IPv4-mapped IPv6 counts as IPv4."""
    text = string_arg(value, "inCidr")
    # inet_pton is strict (dotted quads only, no leading zeros) and ten times faster than ipaddress.
    # ValueError: a NUL or a lone surrogate in the text, which inet_pton cannot even encode.
    try:
        return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
    except (OSError, ValueError):
        pass
    try:
        packed = socket.inet_pton(socket.AF_INET6, text)
    except (OSError, ValueError):
        raise CelEvalError(f"invalid IP address {text[:64]!r}") from None
    if packed[:12] == _V4_MAPPED:
        return 4, int.from_bytes(packed[12:], "big")
    return 6, int.from_bytes(packed, "big")


def ip_in_networks(ip: tuple[int, int], networks: tuple[Network, ...]) -> bool:
    """True when the parsed address lies in one of the ranges."""
    version, number = ip
    for net_version, first, last in networks:
        if net_version == version and first <= number <= last:
            return True
    return False
