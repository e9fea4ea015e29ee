from __future__ import annotations

import ipaddress
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shieldx.shadow.cel import runtime as rt
from shieldx.shadow.cel.types import CelEvalError

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@given(INT64, INT64.filter(bool))
def test_int_division_truncates_toward_zero_and_modulo_follows_the_dividend(a: int, b: int) -> None:
    exact_quotient = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)
    if -(2**63) <= exact_quotient <= 2**63 - 1:
        assert rt.divide(a, b) == exact_quotient
        assert rt.modulo(a, b) == a - exact_quotient * b
    else:
        with pytest.raises(CelEvalError, match="overflow"):
            rt.divide(a, b)


@given(INT64, INT64)
def test_int_arithmetic_is_exact_or_an_overflow_error(a: int, b: int) -> None:
    for op, exact in ((rt.add, a + b), (rt.subtract, a - b), (rt.multiply, a * b)):
        if -(2**63) <= exact <= 2**63 - 1:
            assert op(a, b) == exact
        else:
            with pytest.raises(CelEvalError, match="overflow"):
                op(a, b)


def test_doubles_divide_by_zero_like_ieee_754() -> None:
    assert rt.divide(1.0, 0.0) == math.inf
    assert rt.divide(-1.0, 0.0) == -math.inf
    assert rt.divide(1.0, -0.0) == -math.inf
    assert math.isnan(rt.divide(0.0, 0.0))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("a", "b"),
    [(1, "1"), (1, 1.0), (True, 1), ("a", ["a"]), ({"a": 1}, [1])],
)
def test_mixed_kinds_have_no_arithmetic_overload(a: object, b: object) -> None:
    with pytest.raises(CelEvalError, match="no matching overload"):
        rt.add(a, b)


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        (1, "1", False),
        (1, 1.0, True),
        (2, 1.0, False),
        (1, math.nan, False),
        (True, 1, False),
        (False, 0.0, False),
        ("a", ["a"], False),
        ({"a": 1}, [1], False),
        ([1], [1.0], True),
        ({"k": 1}, {"k": 1.0}, True),
        ({"k": "v", 1: 1}, {"k": "v", 1: "v1"}, False),
    ],
)
def test_equality_is_numeric_across_int_and_double_and_false_across_kinds(
    a: object, b: object, equal: bool
) -> None:
    assert rt.equals(a, b) is equal
    assert rt.equals(b, a) is equal


def test_ordering_compares_int_and_double_numerically() -> None:
    assert rt.ordered("_<_", 1, 2.0) == (1.0, 2.0)
    assert rt.ordered("_<_", "a", "b") == ("a", "b")
    for a, b in ((1, "1"), (True, 1), (None, None), ([1], [2])):
        with pytest.raises(CelEvalError, match="no matching overload"):
            rt.ordered("_<_", a, b)


def test_equality_of_collections_and_null() -> None:
    assert rt.equals([1, [2, "x"]], (1, [2, "x"])) is True
    assert rt.equals([1, 2], [1, 2, 3]) is False
    assert rt.equals([1, "a"], [2, 3]) is False
    assert rt.equals([1, "a"], [1, 3]) is False  # different kinds are unequal, not an error
    assert rt.equals({"a": [1]}, {"a": [1]}) is True
    assert rt.equals({"a": 1}, {"b": 1}) is False
    assert rt.equals(None, None) is True
    assert rt.equals(None, 0) is False


def test_membership_uses_cel_equality() -> None:
    assert rt.contained_in("a", [1, "a"]) is True
    assert rt.contained_in("b", [1, "a"]) is False
    assert rt.contained_in(1, [2.0, 1.0]) is True
    assert rt.contained_in("k", {"k": 1}) is True
    assert rt.contained_in(True, {1: "x"}) is False  # Python would say 1 == True
    assert rt.contained_in(1, {True: "x"}) is False
    assert rt.contained_in(True, {True: "x", 2: "y"}) is True
    with pytest.raises(CelEvalError, match="no matching overload"):
        rt.contained_in(1.5, {1: "x"})


def test_indexing() -> None:
    assert rt.index([1, 2], 1) == 2
    for bad in (-1, 2):
        with pytest.raises(CelEvalError, match="out of range"):
            rt.index([1, 2], bad)
    with pytest.raises(CelEvalError, match="no matching overload"):
        rt.index([1, 2], True)
    assert rt.index([7, 8], 1.0) == 8  # a whole double indexes a list
    with pytest.raises(CelEvalError, match="no matching overload"):
        rt.index([7, 8], 0.5)
    with pytest.raises(CelEvalError, match="no such key"):
        rt.index({"a": 1}, "b")


def test_text_helpers() -> None:
    assert rt.lower_ascii("ÉCOLE Ab") == "École ab"
    assert rt.upper_ascii("école ab") == "éCOLE AB"
    assert rt.url_decode("a%20b+c%27%2F%ZZ") == "a b c'/%ZZ"
    assert rt.url_decode("%ff") == "\ufffd"
    assert rt.size("héllo") == 5


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3.9, 3),
        (-3.9, -3),
        ("-12", -12),
        ("+7", 7),
        (5, 5),
        (-9223372036854774784.0, -(2**63) + 1024),
    ],
)
def test_to_int(value: object, expected: int) -> None:
    assert rt.to_int(value) == expected


@pytest.mark.parametrize(
    "value", ["1_000", " 1", "0x10", "", math.inf, math.nan, 1e30, True, -(2.0**63), 2.0**63]
)
def test_to_int_refuses(value: object) -> None:
    with pytest.raises(CelEvalError):
        rt.to_int(value)


def test_to_string_and_double() -> None:
    assert rt.to_string(True) == "true"
    assert rt.to_string(12) == "12"
    assert rt.to_double("1.5e2") == 150.0
    assert rt.to_double(2) == 2.0
    with pytest.raises(CelEvalError):
        rt.to_double("1.5x")


@pytest.mark.parametrize(
    "text",
    ["10.0.0.1", "255.255.255.255", "::1", "2001:db8::1", "::ffff:10.1.2.3", "fe80::1:2:3:4"],
)
def test_parse_ip_agrees_with_ipaddress(text: str) -> None:
    address = ipaddress.ip_address(text)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    assert rt.parse_ip(text) == (address.version, int(address))


@pytest.mark.parametrize(
    "text", ["10.0.0.01", "10.0.0", "1.2.3.4.5", "256.1.1.1", "", "host", "1.2.3.4/8"]
)
def test_parse_ip_is_strict(text: str) -> None:
    with pytest.raises(CelEvalError, match="invalid IP"):
        rt.parse_ip(text)


@given(st.ip_addresses(), st.ip_addresses(), st.integers(0, 128))
def test_cidr_membership_agrees_with_ipaddress(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
    base: ipaddress.IPv4Address | ipaddress.IPv6Address,
    prefix: int,
) -> None:
    network = ipaddress.ip_network(f"{base}/{min(prefix, base.max_prefixlen)}", strict=False)
    expected = address in network
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        expected = mapped in network
    assert rt.ip_in_networks(rt.parse_ip(str(address)), rt.parse_networks(str(network))) is expected
