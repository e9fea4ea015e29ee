"""Hardening of the shadow API: strict durations, rule-set and batch cost budgets, and the
expensive evaluations that run off the event loop (issue 10)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .conftest import Shadow, rule


@pytest.mark.parametrize(
    "raw",
    [
        '"99999999999d"',
        "1e309",
        "18446744073709551616",
        '"\u0663s"',  # an Arabic-Indic digit three: str.isdigit() says yes, we say no
        "-1",
        '"1e3s"',
        "NaN",
    ],
)
def test_a_deploy_duration_out_of_range_is_a_problem_naming_the_range(
    shadow_server: Callable[..., Shadow], raw: str
) -> None:
    shadow = shadow_server()
    ref = shadow.ruleset({"name": "waf", "rules": [rule("a", 'path == "/a"')]})
    for field in ("stage_duration", "post_promotion_window", "max_inconclusive"):
        body = f'{{"ruleset": "{ref}", "strategy": "canary", "{field}": {raw}}}'
        response = shadow.call(
            "POST", "/shadow/deploy", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code in (400, 422), (field, raw, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        if raw != "NaN":  # NaN is not JSON: refused by the parser before any field is read
            assert "between 0s and 3650d" in response.text, response.text
    assert shadow.ok("GET", "/shadow/deployments") == []  # nothing changed
