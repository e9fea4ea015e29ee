"""OFREP documents: request parsing, success and failure shapes, ETag matching."""

from __future__ import annotations

import pytest

from shieldx.shadow.flags import ofrep
from shieldx.shadow.flags.domain import ErrorCode, Reason, Resolution


def test_requests_parse_to_a_context_or_an_ofrep_error() -> None:
    assert ofrep.parse_request(b"") == {}
    assert ofrep.parse_request(b"{}") == {}
    assert ofrep.parse_request(b'{"context": {"targetingKey": "u", "n": 1.0}}') == {
        "targetingKey": "u",
        "n": 1.0,
    }
    cases = [
        (b"[1]", "PARSE_ERROR", "must be an object"),
        (b"{", "PARSE_ERROR", "not valid JSON"),
        (b'{"context": {}, "flags": []}', "PARSE_ERROR", "unknown field 'flags'"),
        (b'{"context": null}', "INVALID_CONTEXT", "context must be an object"),
        (b'{"context": {"targetingKey": true}}', "INVALID_CONTEXT", "must be a string"),
        (b'{"context": {"a": [[[[[[[[[1]]]]]]]]]}}', "INVALID_CONTEXT", "nests deeper"),
        (b'{"context": {"a": ["ok", "b\\u0007"]}}', "INVALID_CONTEXT", "context.a[1] must not"),
        (b'{"context": {"k\\u001b": 1}}', "INVALID_CONTEXT", "a key with control characters"),
    ]
    for body, code, says in cases:
        with pytest.raises(ofrep.OfrepError) as caught:
            ofrep.parse_request(body)
        assert (caught.value.status, caught.value.code) == (400, code), body
        assert says in caught.value.details, (body, caught.value.details)


def test_resolutions_map_to_success_or_failure_documents() -> None:
    served = Resolution(1.0, "full", Reason.SPLIT)
    assert ofrep.evaluation_doc("d", served, {"revision": 3}) == (
        200,
        {
            "key": "d",
            "value": 1.0,
            "reason": "SPLIT",
            "variant": "full",
            "metadata": {"revision": 3},
        },
    )
    assert ofrep.encode(ofrep.evaluation_doc("d", served, {})[1]).count(b'"value":1.0') == 1
    failed = Resolution(False, "off", Reason.ERROR, ErrorCode.TARGETING_KEY_MISSING, "no key")
    assert ofrep.evaluation_doc("f", failed, {"revision": 1}) == (
        400,
        {"key": "f", "errorCode": "TARGETING_KEY_MISSING", "errorDetails": "no key"},
    )
    bulk = ofrep.bulk_doc([("z", served, {}), ("a", failed, {})])
    assert [doc["key"] for doc in bulk["flags"]] == ["a", "z"]


def test_if_none_match_compares_weakly_and_accepts_lists_and_star() -> None:
    tag = ofrep.etag(b'{"flags":[]}')
    assert tag.startswith('"') and tag.endswith('"') and tag != ofrep.etag(b'{"flags":[1]}')
    assert ofrep.none_match(tag, tag)
    assert ofrep.none_match(f"W/{tag}", tag)
    assert ofrep.none_match(f'"x", {tag}', tag)
    assert ofrep.none_match("*", tag)
    assert not ofrep.none_match(None, tag)
    assert not ofrep.none_match('"x"', tag)
    assert not ofrep.none_match(tag.strip('"'), tag)  # an unquoted tag is another tag
