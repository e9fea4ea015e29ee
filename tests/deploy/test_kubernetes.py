"""deploy/kubernetes: kustomize renders, the resources pass the Kubernetes and Argo schemas, and
the commands, ports, probes and settings are the ones ShieldX really has."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from shieldx.cli import SERVICE_NAMES
from shieldx.config import Settings
from shieldx.services import SERVICES
from shieldx.testing.fixtures import need_tool

from .conftest import (
    DEPLOY,
    PROMETHEUS_SERIES,
    cli_parse,
    config_check,
    metric_names,
    settings_from_env,
)
from .kustomize import Doc, kustomization, listed_files, render

KUBE = DEPLOY / "kubernetes"
KUSTOMIZATIONS = [KUBE / "base", KUBE / "rollouts", KUBE / "overlays" / "example"]
OVERLAY = KUBE / "overlays" / "example"
ARGO_SCHEMAS = Path(__file__).parent / "argo-rollouts-schemas.json"
# The oldest Kubernetes still supported upstream when this was written, and the newest known.
KUBERNETES_VERSIONS = ["1.30.0", kubernetes_validate.latest_version()]
CANARY_WEIGHTS = [10, 25, 50, 100]


@pytest.fixture(scope="module")
def rendered() -> list[Doc]:
    """The example overlay, rendered."""
    return render(OVERLAY)


def by_kind(docs: list[Doc], kind: str) -> dict[str, Doc]:
    """DOCS of KIND by name."""
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def strict(schema: Any) -> Any:
    """SCHEMA with unknown properties refused (as the API server prunes, and --strict refuses)."""
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items()}
        if "properties" in out and not out.get("x-kubernetes-preserve-unknown-fields"):
            out.setdefault("additionalProperties", False)
        if out.get("x-kubernetes-int-or-string"):
            out["type"] = ["integer", "string"]
        return out
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=lambda p: str(p.relative_to(KUBE)))
def test_every_listed_file_exists(directory: Path) -> None:
    """Each resource and patch a kustomization names exists."""
    assert kustomization(directory)["kind"] == "Kustomization"
    for path in listed_files(directory):
        assert path.exists(), f"{directory}/kustomization.yaml names missing {path}"


def test_python_rendering_matches_kubectl_kustomize(rendered: list[Doc]) -> None:
    """Where kubectl is installed, its kustomize renders exactly what the Python rendering does."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        # The Python rendering is then the only one; it still has to produce the whole set.
        assert len(by_kind(rendered, "Deployment")) == len(SERVICE_NAMES)
        return
    result = subprocess.run(
        [kubectl, "kustomize", str(OVERLAY)], capture_output=True, text=True, check=True
    )
    theirs = [d for d in yaml.safe_load_all(result.stdout) if d]

    def key(d: Doc) -> tuple[str, str]:
        return d["kind"], d["metadata"]["name"]

    assert sorted(rendered, key=key) == sorted(theirs, key=key)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_core_resources_pass_kubernetes_validate_strict(rendered: list[Doc], version: str) -> None:
    """Every non-Argo resource validates strictly against the Kubernetes schemas."""
    core = [d for d in rendered if not d["apiVersion"].startswith("argoproj.io/")]
    assert len(core) > 20
    for doc in core:
        kubernetes_validate.validate(doc, version, strict=True)


def test_argo_resources_pass_the_vendored_crd_schemas(rendered: list[Doc]) -> None:
    """Rollouts and AnalysisTemplates validate against Argo Rollouts' own openAPIV3Schema."""
    schemas = json.loads(ARGO_SCHEMAS.read_text())["schemas"]
    argo = [d for d in rendered if d["apiVersion"].startswith("argoproj.io/")]
    assert {d["kind"] for d in argo} == {"Rollout", "AnalysisTemplate"}
    for doc in argo:
        assert doc["apiVersion"] == "argoproj.io/v1alpha1"
        jsonschema.validate(doc, strict(schemas[doc["kind"]]))
    # The strict schema does refuse what the controller would not know.
    bad = by_kind(rendered, "Rollout")["shieldx-credits"]
    bad = {**bad, "spec": {**bad["spec"], "stratgy": {}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, strict(schemas["Rollout"]))


def test_canary_and_blue_green_rollouts(rendered: list[Doc]) -> None:
    """Credits canaries through 10, 25, 50, 100 % with analysis after each step; shadow is blue-green."""
    rollouts = by_kind(rendered, "Rollout")
    deployments = by_kind(rendered, "Deployment")
    services = by_kind(rendered, "Service")
    templates = by_kind(rendered, "AnalysisTemplate")
    canary = rollouts["shieldx-credits"]["spec"]["strategy"]["canary"]["steps"]
    assert [s["setWeight"] for s in canary if "setWeight" in s] == CANARY_WEIGHTS
    for index, step in enumerate(canary):
        if "setWeight" in step and step["setWeight"] < 100:
            assert "analysis" in canary[index + 2], f"no analysis after {step}"
    blue_green = rollouts["shieldx-shadow"]["spec"]["strategy"]["blueGreen"]
    assert {blue_green["activeService"], blue_green["previewService"]} <= set(services)
    analyses = [s["analysis"] for s in canary if "analysis" in s]
    analyses.append(blue_green["prePromotionAnalysis"])
    for analysis in analyses:
        assert {t["templateName"] for t in analysis["templates"]} == set(templates)
    for rollout in rollouts.values():
        ref = rollout["spec"]["workloadRef"]
        target = deployments[ref["name"]]
        labels = target["spec"]["template"]["metadata"]["labels"]
        assert rollout["spec"]["selector"]["matchLabels"].items() <= labels.items()
    hpas = by_kind(rendered, "HorizontalPodAutoscaler")
    for name in rollouts:
        assert hpas[name]["spec"]["scaleTargetRef"]["kind"] == "Rollout"


def test_analysis_templates_gate_on_metrics_shieldx_exports(
    rendered: list[Doc], exported_metrics: set[str], tmp_path: Path
) -> None:
    """Error rate < 5 % and p95 < 1 s, on exported metrics, in PromQL promtool accepts."""
    templates = by_kind(rendered, "AnalysisTemplate")
    conditions = {
        m["name"]: m["successCondition"] for t in templates.values() for m in t["spec"]["metrics"]
    }
    assert conditions == {
        "error-rate": "isNaN(result[0]) || result[0] < 0.05",
        "latency-p95": "isNaN(result[0]) || result[0] < 1",
    }
    queries = [
        m["provider"]["prometheus"]["query"].replace("{{args.service}}", "credits")
        for t in templates.values()
        for m in t["spec"]["metrics"]
    ]
    for query in queries:
        missing = metric_names(query) - exported_metrics - PROMETHEUS_SERIES
        assert not missing, query
    flat = ["".join(q.split()) for q in queries]
    assert any('http_requests_total{job="shieldx-credits",status=~"5.."}' in q for q in flat)
    assert any(q.startswith("histogram_quantile(0.95,") for q in flat)
    rules = {
        "groups": [
            {"name": "q", "rules": [{"record": f"q{i}", "expr": q} for i, q in enumerate(queries)]}
        ]
    }
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run(
        [need_tool("promtool", "prometheus"), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_deployments_run_shieldx_as_configured(rendered: list[Doc]) -> None:
    """Each service: `serve NAME` on its port, probes, resources, non-root read-only, data emptyDir."""
    deployments = by_kind(rendered, "Deployment")
    assert set(deployments) == {f"shieldx-{name}" for name in SERVICE_NAMES}
    settings = container_settings(rendered)
    for name in SERVICE_NAMES:
        pod = deployments[f"shieldx-{name}"]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert cli_parse(container["args"])["service"] == name
        assert container["args"] == ["serve", name]
        (port,) = container["ports"]
        assert port["containerPort"] == SERVICES[name].port(settings)
        assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
        assert container["livenessProbe"]["httpGet"]["path"] == "/health"
        assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
        assert {"cpu", "memory"} <= container["resources"]["limits"].keys()
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert "emptyDir" in volumes[mounts[str(settings.data_dir)]]
        assert container["image"] == "registry.example.com/shieldx:0.1.0"


def test_every_service_has_its_companions(rendered: list[Doc]) -> None:
    """A Service, PodDisruptionBudget, HorizontalPodAutoscaler and NetworkPolicy per Deployment."""
    for name, deployment in by_kind(rendered, "Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        port = deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"]
        service = by_kind(rendered, "Service")[name]
        assert service["spec"]["selector"].items() <= labels.items()
        assert service["spec"]["ports"][0]["port"] == port
        pdb = by_kind(rendered, "PodDisruptionBudget")[name]
        assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert by_kind(rendered, "HorizontalPodAutoscaler")[name]["spec"]["minReplicas"] >= 2
        policy = by_kind(rendered, "NetworkPolicy")[name]
        assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
        assert policy["spec"]["ingress"][0]["ports"] == [{"port": port, "protocol": "TCP"}]
        egress_ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]}
        assert {53, 5432} <= egress_ports, name
    # Compliance checks (on the credits port) reach every service's port.
    credits_egress = by_kind(rendered, "NetworkPolicy")["shieldx-credits"]["spec"]["egress"]
    reach = {p["port"] for rule in credits_egress if "to" in rule for p in rule["ports"]}
    assert reach == {SERVICES[name].port(Settings()) for name in SERVICE_NAMES}


def test_migration_job_and_configuration(rendered: list[Doc]) -> None:
    """The Job runs `shieldx db upgrade`; the ConfigMap and Secret every pod reads load as settings."""
    job = by_kind(rendered, "Job")["shieldx-migrate"]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["db", "upgrade"]
    assert cli_parse(container["args"])["revision"] == "heads"
    settings = container_settings(rendered)
    assert settings.database.auto_migrate is False
    assert settings.server.host == "0.0.0.0"
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.security.active_key_id in settings.security.encryption_keys
    configmaps, secrets = by_kind(rendered, "ConfigMap"), by_kind(rendered, "Secret")
    pods = [d["spec"]["template"]["spec"] for d in rendered if d["kind"] in {"Deployment", "Job"}]
    for pod in pods:
        for source in pod["containers"][0]["envFrom"]:
            if "configMapRef" in source:
                assert source["configMapRef"]["name"] in configmaps
            else:
                assert source["secretRef"]["name"] in secrets


def test_shieldx_config_check_accepts_the_pod_environment(
    rendered: list[Doc], tmp_path: Path
) -> None:
    """`shieldx config check` passes the ConfigMap and Secret with no ineffective setting."""
    assert "ok" in config_check(container_env(rendered), tmp_path)


def container_env(rendered: list[Doc]) -> dict[str, str]:
    """The variables a container gets from the ConfigMap and the Secret (placeholders filled)."""
    env = dict(by_kind(rendered, "ConfigMap")["shieldx-config"]["data"])
    env.update(by_kind(rendered, "Secret")["shieldx-secrets"]["stringData"])
    key = base64.urlsafe_b64encode(b"\0" * 32).decode()
    env["SHIELDX_SECURITY_ENCRYPTION_KEYS"] = json.dumps({"k1": key})
    return env


def container_settings(rendered: list[Doc]) -> Settings:
    """The settings a container gets from the ConfigMap and the Secret."""
    settings = settings_from_env(container_env(rendered))
    assert isinstance(settings, Settings)
    return settings
