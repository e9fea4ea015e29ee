"""A client generated from the shadow service's /openapi.json drives a whole flow.

openapi-python-client runs as a subprocess on the document the live server serves; the
generated package is imported and used with its typed models: create rule sets, deploy,
decide, start an A/B test, feed it and read its results and the deployment's report.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from .conftest import Shadow, rule

PACKAGE = "shadow_client"


@pytest.fixture
def generated(tmp_path: Path) -> Iterator[Callable[[str], ModuleType]]:
    """Import modules of the generated package (removed from sys.modules afterwards)."""
    sys.path.insert(0, str(tmp_path))
    try:
        yield lambda name: importlib.import_module(f"{PACKAGE}.{name}")
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def generate(shadow: Shadow, into: Path) -> None:
    """Fetch /openapi.json and generate the client package INTO/shadow_client."""
    answer = shadow.call("GET", "/openapi.json", tenant=None)
    assert answer.status_code == 200, answer.text
    spec = into / "openapi.json"
    spec.write_bytes(answer.content)
    # Its formatting hooks run ruff from PATH: the one installed beside this interpreter.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        [
            *(sys.executable, "-m", "openapi_python_client", "generate", "--path", str(spec)),
            *("--meta", "none", "--output-path", str(into / PACKAGE)),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # Only the mirror feed's JSON-lines body may be beyond the generator (JSON arrays are not).
    warnings = [line for line in done.stdout.splitlines() if line.startswith("WARNING")]
    assert set(warnings) <= {"WARNING parsing POST /shadow/traffic within rules."}, done.stdout


def test_a_generated_client_drives_rule_sets_deployments_decisions_and_results(
    shadow_server: Callable[..., Shadow],
    tmp_path: Path,
    generated: Callable[[str], ModuleType],
) -> None:
    shadow = shadow_server()
    generate(shadow, tmp_path)
    client_module, models = generated("client"), generated("models")
    api: Callable[[str], Any] = lambda name: generated(f"api.{name}")  # noqa: E731
    client = client_module.AuthenticatedClient(base_url=shadow.url, token=shadow.keys["acme"])
    with client:  # closes its connections at the end
        drive(client, models, api)


def drive(client: Any, models: ModuleType, api: Callable[[str], Any]) -> None:
    """The flow, through the generated modules."""

    def ruleset(name: str, expression: str) -> Any:
        body = models.RuleSetCreate.from_dict(
            {"name": name, "rules": [rule("r1", expression)], "on_error": "fail_open"}
        )
        created = api("rules.create_ruleset_shadow_rulesets_post").sync(client=client, body=body)
        assert isinstance(created, models.RuleSetCreated), created
        return created

    v1 = ruleset("waf", "path.startsWith('/admin')")
    assert (v1.tenant, v1.name, v1.version) == ("acme", "waf", 1)
    detail = api("rules.get_ruleset_shadow_rulesets_ref_get").sync("waf@1", client=client)
    assert isinstance(detail, models.RuleSetDetail)
    assert [r.id for r in detail.rules] == ["r1"] and detail.on_error.value == "fail_open"

    deploy = api("rollouts.deploy_shadow_deploy_post")
    first = deploy.sync(
        client=client,
        body=models.DeployCreate.from_dict({"ruleset": "waf@1", "strategy": "immediate"}),
    )
    assert isinstance(first, models.DeploymentCreated)
    assert (first.status.value, first.percentage) == ("completed", 100.0)

    decide = api("decide.decide_shadow_decide_post")
    record = models.DecideShadowDecidePostBody.from_dict(
        {"method": "GET", "path": "/admin/panel", "ip": "203.0.113.9"}
    )
    decision = decide.sync(client=client, body=record)
    assert isinstance(decision, models.DecisionOut)
    assert (decision.action, decision.ruleset, decision.rule_id) == ("block", "waf", "r1")

    # A candidate in an A/B test beside the deployed version, fed through the decision route.
    ruleset("waf", "path.startsWith('/admin') || query.contains('union')")
    test = api("rollouts.create_test_shadow_evaluate_post").sync(
        client=client,
        body=models.ExperimentCreate.from_dict(
            {"name": "union", "control": "waf@1", "candidate": "waf@2", "min_samples": 0}
        ),
    )
    assert isinstance(test, models.ExperimentCreated) and test.status == "running"
    for n in range(20):
        query = "q=1 union select" if n % 2 else "q=shoes"
        body = models.DecideShadowDecidePostBody.from_dict(
            {"path": "/search", "query": query, "ip": f"198.51.100.{n}"}
        )
        answer = decide.sync(client=client, body=body)
        assert isinstance(answer, models.DecisionOut) and answer.action == "allow"

    results = api("rollouts.results_shadow_results_test_id_get").sync(test.id, client=client)
    assert isinstance(results, models.ResultsOut)
    seen = results.variants.control.n + results.variants.candidate.n
    assert seen == 20
    assert results.verdict_diff.requests == 20
    assert isinstance(results.bayesian.absolute.chance_to_win, float)

    report = api("rollouts.get_deployment_shadow_deployments_deployment_id_get").sync(
        first.id, client=client
    )
    assert isinstance(report, models.DeploymentReport)
    assert report.status.value == "completed" and report.current is None
    assert [s.phase.value for s in report.plan] == ["immediate"]
