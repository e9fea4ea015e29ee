from __future__ import annotations

import pytest

from shieldx.shadow.rules.records import (
    FIELDS,
    RecordError,
    RecordLimits,
    normalize_record,
    request_variables,
)


def test_defaults_and_normalisation() -> None:
    record = normalize_record(
        {
            "path": "/search?q=shoes",
            "headers": {
                "User-Agent": "UA/1",
                "Content-Length": "42",
                "X-A": ["1", "2"],
                "x-a": "3",
            },
            "country": "fr",
            "asn": "AS3215",
            "label": "benign",
        }
    )
    assert record == {
        "method": "GET",
        "path": "/search",
        "query": "q=shoes",
        "headers": {"user-agent": "UA/1", "content-length": "42", "x-a": "1, 2, 3"},
        "ip": "0.0.0.0",
        "country": "FR",
        "asn": 3215,
        "user_agent": "UA/1",
        "body_size": 42,
        "tenant": "",
    }
    assert tuple(record) == FIELDS


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"path": 3}, "path must be a string"),
        ({"path": "/" * 5000}, "path is 5000 characters long (limit 4096)"),
        ({"ip": "10.0.0.256"}, "ip must be an IPv4 or IPv6 address"),
        ({"asn": -1}, "asn must be a non-negative integer"),
        ({"asn": True}, "asn must be a non-negative integer"),
        ({"asn": "\u00b2"}, "asn must be a non-negative integer"),
        ({"asn": "AS\u0663"}, "asn must be a non-negative integer"),
        ({"asn": "9" * 5000}, "asn must be a non-negative integer"),
        ({"asn": str(2**64)}, "asn must be a non-negative integer"),
        ({"ip": "10.0.0.1\x00"}, "ip must be an IPv4 or IPv6 address"),
        ({"ip": "::1\ud800"}, "ip must be an IPv4 or IPv6 address"),
        ({"body_size": "12"}, "body_size must be a non-negative integer"),
        ({"country": "FRA"}, "country must be a two-letter ISO code"),
        ({"headers": ["a"]}, "headers must be an object"),
        ({"headers": {"a": 1}}, "header 'a' must be a string"),
        ({"headers": {f"h{i}": "v" for i in range(65)}}, "65 headers (limit 64)"),
        ({"headers": {"a": "x" * 5000}}, "header 'a' is 5000 characters long"),
    ],
)
def test_bad_records_name_the_field(raw: dict[str, object], message: str) -> None:
    with pytest.raises(RecordError) as info:
        normalize_record(raw)
    assert message in str(info.value)


@pytest.mark.parametrize("length", ["\u00b2", "\u0663", "9" * 1000, ""])
def test_a_content_length_of_no_ascii_number_is_no_body_size(length: str) -> None:
    assert normalize_record({"headers": {"Content-Length": length}})["body_size"] == 0


def test_declared_sizes_follow_the_limits() -> None:
    limits = RecordLimits(path=100, header_count=3, header_value=50)
    variables = request_variables(limits)
    assert variables["path"].size == 100
    assert (variables["headers"].size, variables["headers"].elem_size) == (3, 256)
    assert set(variables) == set(FIELDS)
