"""OFREP: flags read by the real OpenFeature Python SDK and its OFREP provider, over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from jsonschema import Draft202012Validator
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from shieldx.platform.roles import Role
from shieldx.shadow.flags.domain import bucket

from ..conftest import Shadow

FLAGS: list[dict[str, Any]] = [
    {
        "key": "new-checkout",
        "variants": {"on": True, "off": False},
        "default_variant": "off",
        "targeting": [
            {"expression": 'has(context.plan) && context.plan == "pro"', "variant": "on"}
        ],
        "rollout": {"variant": "on", "percentage": 30},
    },
    {"key": "banner", "variants": {"blue": "blue", "red": "red"}, "default_variant": "red"},
    {
        "key": "discount",
        "variants": {"low": 0.5, "full": 1.0},
        "default_variant": "full",
        "targeting": [{"expression": 'context.country == "CA"', "variant": "low"}],
    },
    {"key": "max-items", "variants": {"few": 3, "many": 10}, "default_variant": "many"},
    {
        "key": "theme",
        "variants": {"dark": {"bg": "#000", "contrast": 1.5, "tags": ["a"]}, "light": {}},
        "default_variant": "dark",
    },
]


@pytest.fixture
def flagged(shadow_server: Callable[..., Shadow]) -> Shadow:
    """A live shadow server whose tenant acme has the FLAGS."""
    shadow = shadow_server()
    for flag in FLAGS:
        shadow.ok("POST", "/shadow/flags", json=flag)
    return shadow


@pytest.fixture
def sdk(flagged: Shadow) -> Iterator[Callable[[str], OpenFeatureClient]]:
    """OpenFeature clients whose OFREP provider reads FLAGGED with a given API key."""
    domains: list[str] = []

    def client(key: str) -> OpenFeatureClient:
        domain = f"ofrep-{len(domains)}"
        domains.append(domain)
        provider = OFREPProvider(
            flagged.url, headers_factory=lambda: {"Authorization": f"Bearer {key}"}, timeout=30
        )
        api.set_provider(provider, domain=domain)
        return api.get_client(domain)

    try:
        yield client
    finally:
        api.clear_providers()


def details(found: Any) -> tuple[Any, Any, Any, Any]:
    """(value, reason, variant, error_code) of the SDK's FlagEvaluationDetails."""
    return found.value, found.reason, found.variant, found.error_code


def test_the_openfeature_sdk_reads_every_flag_type(
    flagged: Shadow, sdk: Callable[[str], OpenFeatureClient]
) -> None:
    # A read-only key of the tenant is enough: evaluation changes nothing.
    auditor = flagged.ctx.api_keys.create(role=Role.AUDITOR, tenant="acme")[1]
    client = sdk(auditor)
    pro = EvaluationContext("user-1", {"plan": "pro"})

    found = client.get_boolean_details("new-checkout", False, pro)
    assert details(found) == (True, Reason.TARGETING_MATCH, "on", None)
    assert found.flag_metadata == {"revision": 1}
    assert details(client.get_string_details("banner", "none")) == (
        "red",
        Reason.STATIC,
        "red",
        None,
    )
    low = client.get_float_details("discount", 0.0, EvaluationContext("u", {"country": "CA"}))
    assert details(low) == (0.5, Reason.TARGETING_MATCH, "low", None)
    full = client.get_float_details("discount", 0.0, EvaluationContext("u", {"country": "FR"}))
    assert details(full) == (1.0, Reason.DEFAULT, "full", None)
    assert isinstance(full.value, float)  # 1.0 travels as 1.0, not 1
    assert details(client.get_integer_details("max-items", 0)) == (10, Reason.STATIC, "many", None)
    theme = client.get_object_details("theme", {})
    assert details(theme) == (
        {"bg": "#000", "contrast": 1.5, "tags": ["a"]},
        Reason.STATIC,
        "dark",
        None,
    )


def test_the_sdk_sees_splits_errors_and_the_kill_switch(
    flagged: Shadow, sdk: Callable[[str], OpenFeatureClient]
) -> None:
    client = sdk(flagged.keys["acme"])
    users = [f"user-{i}" for i in range(40)]
    served = {
        u: details(client.get_boolean_details("new-checkout", False, EvaluationContext(u)))
        for u in users
    }
    for user, got in served.items():
        inside = bucket("new-checkout", user) < 30
        assert got == (
            (True, Reason.SPLIT, "on", None) if inside else (False, "DEFAULT", "off", None)
        )
    assert {got[1] for got in served.values()} == {Reason.SPLIT, Reason.DEFAULT}

    # No targetingKey: the rollout cannot bucket; the SDK answers the code's default.
    missing_key = client.get_boolean_details("new-checkout", True, EvaluationContext())
    assert details(missing_key) == (True, Reason.ERROR, None, ErrorCode.TARGETING_KEY_MISSING)
    assert "targetingKey" in (missing_key.error_message or "")

    missing = client.get_boolean_details("no-such-flag", True)
    assert details(missing) == (True, Reason.ERROR, None, ErrorCode.FLAG_NOT_FOUND)
    assert "no-such-flag" in (missing.error_message or "")

    # OFREP carries no type: the provider compares the value with the type asked for.
    mismatch = client.get_string_details("new-checkout", "fallback", EvaluationContext("u"))
    assert details(mismatch) == ("fallback", Reason.ERROR, None, ErrorCode.TYPE_MISMATCH)
    as_float = client.get_float_details("max-items", 0.5)  # an integer flag is not a float
    assert (as_float.value, as_float.error_code) == (0.5, ErrorCode.TYPE_MISMATCH)
    # A targeting rule failing at run time (no country in the context) is a GENERAL error.
    failing = client.get_float_details("discount", 0.25, EvaluationContext("u"))
    assert details(failing) == (0.25, Reason.ERROR, None, ErrorCode.GENERAL)
    assert "targeting[0]" in (failing.error_message or "")

    flagged.ok("PATCH", "/shadow/flags/new-checkout", json={"enabled": False})
    killed = client.get_boolean_details(
        "new-checkout", True, EvaluationContext("u", {"plan": "pro"})
    )
    assert details(killed) == (False, Reason.DISABLED, "off", None)
    assert killed.flag_metadata == {"revision": 2}

    stranger = sdk("not-a-key")
    refused = stranger.get_boolean_details("banner", True)
    assert (refused.value, refused.error_code, refused.error_message) == (
        True,
        ErrorCode.GENERAL,
        "unauthorized",
    )


def post(shadow: Shadow, path: str, who: str = "acme", **kwargs: Any) -> httpx.Response:
    """A raw OFREP request."""
    return shadow.call("POST", "/ofrep/v1/evaluate/flags" + path, who, **kwargs)


def test_single_evaluation_errors_are_ofrep_documents(flagged: Shadow) -> None:
    missing = post(flagged, "/nope", json={"context": {"targetingKey": "u"}})
    assert missing.status_code == 404
    assert {k: missing.json()[k] for k in ("key", "errorCode")} == {
        "key": "nope",
        "errorCode": "FLAG_NOT_FOUND",
    }
    assert "nope" in missing.json()["errorDetails"]

    broken = post(
        flagged, "/banner", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert (broken.status_code, broken.json()["errorCode"]) == (400, "PARSE_ERROR")
    assert broken.json()["key"] == "banner"
    for body, code, says in [
        ({"context": "u-1"}, "INVALID_CONTEXT", "context must be an object"),
        ({"context": {"targetingKey": 42}}, "INVALID_CONTEXT", "targetingKey must be a string"),
        ({"context": {"a": "x\x00"}}, "INVALID_CONTEXT", "context.a must not contain control"),
        ({"context": {}, "extra": 1}, "PARSE_ERROR", "unknown field 'extra'"),
        ({"context": {}}, "TARGETING_KEY_MISSING", "'targetingKey'"),
    ]:
        response = post(flagged, "/new-checkout", json=body)
        assert response.status_code == 400, body
        assert response.json()["errorCode"] == code
        assert says in response.json()["errorDetails"]

    # A body with no context at all is an empty context (what the provider sends without one).
    assert post(flagged, "/banner", json={}).json() == {
        "key": "banner",
        "value": "red",
        "reason": "STATIC",
        "variant": "red",
        "metadata": {"revision": 1},
    }
    assert post(flagged, "/banner", who="admin", json={}).status_code == 200  # ?tenant=acme
    unauthenticated = flagged.client.post(flagged.url + "/ofrep/v1/evaluate/flags/banner", json={})
    assert unauthenticated.status_code == 401
    other_tenant = post(flagged, "/banner", params={"tenant": "globex"}, json={})
    assert other_tenant.status_code == 403
    assert post(flagged, "/banner", who="globex", json={}).status_code == 404  # not its flag


def test_bulk_evaluation_with_etag_and_304(flagged: Shadow) -> None:
    context = {"context": {"targetingKey": "user-1", "plan": "pro", "country": "CA"}}
    first = post(flagged, "", json=context)
    assert first.status_code == 200
    tag = first.headers["ETag"]
    docs = {doc["key"]: doc for doc in first.json()["flags"]}
    assert list(docs) == sorted(flag["key"] for flag in FLAGS)
    assert docs["new-checkout"] == {
        "key": "new-checkout",
        "value": True,
        "reason": "TARGETING_MATCH",
        "variant": "on",
        "metadata": {"revision": 1},
    }
    assert (docs["discount"]["value"], docs["max-items"]["value"]) == (0.5, 10)
    assert b'"value":1.0' not in first.content and b'"value":0.5' in first.content

    again = post(flagged, "", json=context, headers={"If-None-Match": tag})
    assert (again.status_code, again.content, again.headers["ETag"]) == (304, b"", tag)
    for header in (f"W/{tag}", f'"other", {tag}', "*"):
        assert post(flagged, "", json=context, headers={"If-None-Match": header}).status_code == 304
    assert post(flagged, "", json=context, headers={"If-None-Match": '"old"'}).status_code == 200

    # Another context is another answer: a failure for one flag does not fail the others.
    anonymous = post(flagged, "", json={"context": {}}, headers={"If-None-Match": tag})
    assert anonymous.status_code == 200 and anonymous.headers["ETag"] != tag
    failed = next(doc for doc in anonymous.json()["flags"] if doc["key"] == "new-checkout")
    assert failed["errorCode"] == "TARGETING_KEY_MISSING" and "value" not in failed
    assert len(anonymous.json()["flags"]) == len(FLAGS)

    # A changed flag changes the answer: the old ETag no longer matches.
    flagged.ok("PATCH", "/shadow/flags/banner", json={"default_variant": "blue"})
    changed = post(flagged, "", json=context, headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["ETag"] != tag
    assert {d["key"]: d["value"] for d in changed.json()["flags"]}["banner"] == "blue"

    invalid = post(flagged, "", json={"context": []})
    assert invalid.status_code == 400
    assert invalid.json()["errorCode"] == "INVALID_CONTEXT" and "key" not in invalid.json()
    assert post(flagged, "", who="globex", json=context).json() == {"flags": []}


def _spec() -> dict[str, Any]:
    text = (Path(__file__).with_name("ofrep-openapi.yaml")).read_text()
    # The spec's value types overlap (codeDefaultFlag matches any object, integerFlag is a
    # floatFlag too), so its oneOf cannot hold for any answer: it is read as anyOf.
    spec: dict[str, Any] = yaml.safe_load(text.replace("oneOf:", "anyOf:"))
    return spec


def spec_errors(schema: str, doc: Any) -> list[str]:
    """How DOC departs from a schema of the official OFREP OpenAPI document."""
    resource = Resource.from_contents(_spec(), default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource("urn:ofrep", resource)
    validator = Draft202012Validator(
        {"$ref": f"urn:ofrep#/components/schemas/{schema}"}, registry=registry
    )
    return sorted(error.message for error in validator.iter_errors(doc))


DEFAULT_OFF_ENUM = (
    "'DEFAULT' is not one of ['STATIC', 'TARGETING_MATCH', 'SPLIT', 'DISABLED', 'UNKNOWN']"
)


def test_answers_fit_the_official_ofrep_schemas(flagged: Shadow) -> None:
    contexts = [{"targetingKey": "user-1", "plan": "pro", "country": "CA"}, {}, {"country": "FR"}]
    seen_reasons = set()
    whole_bulk_checked = False
    for context in contexts:
        for doc in post(flagged, "", json={"context": context}).json()["flags"]:
            if "errorCode" in doc:
                assert spec_errors("evaluationFailure", doc) == [], doc
                continue
            seen_reasons.add(doc["reason"])
            # DEFAULT is OpenFeature's reason; the OFREP schema's enum leaves it out.
            expected = [DEFAULT_OFF_ENUM] if doc["reason"] == "DEFAULT" else []
            assert spec_errors("evaluationSuccess", doc) == expected, doc
        bulk = post(flagged, "", json={"context": context}).json()
        if all(doc.get("reason") != "DEFAULT" for doc in bulk["flags"]):
            assert spec_errors("bulkEvaluationSuccess", bulk) == []
            whole_bulk_checked = True
    assert {"STATIC", "TARGETING_MATCH", "DEFAULT"} <= seen_reasons and whole_bulk_checked
    single = post(flagged, "/banner", json={"context": {"targetingKey": "u"}}).json()
    assert spec_errors("serverEvaluationSuccess", single) == []
    missing = post(flagged, "/nope", json={"context": {}}).json()
    assert spec_errors("flagNotFound", missing) == []
    invalid = post(flagged, "", json={"context": []}).json()
    assert spec_errors("bulkEvaluationFailure", invalid) == []
