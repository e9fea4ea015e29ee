"""deploy/compose.yaml: the Compose schema, health checks and volumes, and what ShieldX accepts."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from shieldx.cli import SERVICE_NAMES
from shieldx.config import Settings
from shieldx.services import SERVICES
from shieldx.testing.fixtures import need_tool

from .conftest import DEPLOY, cli_parse, config_check, settings_from_env, venv_tool

COMPOSE = DEPLOY / "compose.yaml"
PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
PLATFORM = {"postgres", "redis", "nats", "prometheus", "grafana"}
# Values for the ${VAR:?...} the file requires (a base64url 32-byte encryption key).
REQUIRED = {
    "POSTGRES_PASSWORD": "pw",
    "SHIELDX_ENCRYPTION_KEY": "A" * 43,
    "SHIELDX_ADMIN_KEY": "sx_admin_example",
    "GRAFANA_ADMIN_PASSWORD": "pw",
}


def compose() -> dict[str, Any]:
    """compose.yaml with anchors merged."""
    doc: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return doc


def interpolate(value: str) -> str:
    """Compose's ${VAR:?message} / ${VAR} substitution with the REQUIRED values."""
    return re.sub(r"\$\{(\w+)(?::\?[^}]*)?\}", lambda m: REQUIRED[m.group(1)], value)


def shieldx_services() -> dict[str, dict[str, Any]]:
    """The services that run the ShieldX image."""
    return {n: s for n, s in compose()["services"].items() if s.get("image") == "shieldx:local"}


def test_compose_specification_schema() -> None:
    """check-jsonschema validates the file against the Compose specification."""
    tool = venv_tool("check-jsonschema", "check-jsonschema")
    result = subprocess.run(
        [tool, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_service_and_the_platform_around_them() -> None:
    """Each ShieldX service runs alone; PostgreSQL, Redis, NATS, Prometheus, Grafana are there."""
    services = compose()["services"]
    assert set(services) >= PLATFORM
    commands = {tuple(s["command"]) for s in shieldx_services().values()}
    assert {("serve", name) for name in SERVICE_NAMES} | {("db", "upgrade")} == commands


def test_health_checks_and_volumes() -> None:
    """Every long-running service has a health check and a named volume that is declared."""
    doc = compose()
    for name, service in doc["services"].items():
        if name == "migrate":
            continue
        check = service["healthcheck"]["test"]
        assert check[0] == "CMD" and len(check) > 1, name
        volumes = [v.split(":")[0] for v in service["volumes"]]
        assert any(v in doc["volumes"] for v in volumes), name
        for volume in volumes:
            assert volume in doc["volumes"] or (COMPOSE.parent / volume).exists(), volume


def test_commands_environment_and_ports_are_what_shieldx_accepts() -> None:
    """Each command parses with the real CLI; the environment loads as settings; ports agree."""
    for name, service in shieldx_services().items():
        params = cli_parse(service["command"])
        env = {k: interpolate(str(v)) for k, v in service["environment"].items()}
        settings = settings_from_env(env)
        assert isinstance(settings, Settings)
        assert settings.database.auto_migrate is False
        assert settings.database_url.startswith("postgresql+psycopg://shieldx:pw@postgres:5432/")
        assert settings.security.active_key_id in settings.security.encryption_keys
        if name == "migrate":
            continue
        assert params["service"] == name
        port = SERVICES[name].port(settings)
        assert service["ports"] == [f"{port}:{port}"]
        assert f"127.0.0.1:{port}/health" in " ".join(service["healthcheck"]["test"])
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_prometheus_scrapes_every_service_and_loads_the_rules(tmp_path: Path) -> None:
    """prometheus.yml passes `promtool check config` and scrapes each service on its port."""
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]
    }
    defaults = Settings()
    assert targets == {
        f"shieldx-{name}": [f"{name}:{SERVICES[name].port(defaults)}"] for name in SERVICE_NAMES
    }
    mounted = {
        v.split(":")[1]: v.split(":")[0] for v in compose()["services"]["prometheus"]["volumes"]
    }
    assert mounted["/etc/prometheus/rules.yml"] == "./prometheus/rules.yml"
    # promtool resolves rule_files: point them at the repository's copy.
    config["rule_files"] = [str(DEPLOY / "prometheus" / "rules.yml")]
    local = tmp_path / "prometheus.yml"
    local.write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [need_tool("promtool", "prometheus"), "check", "config", str(local)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_shieldx_config_check_accepts_the_environment(tmp_path: Path) -> None:
    """`shieldx config check` passes the services' environment with no ineffective setting."""
    env = {k: interpolate(str(v)) for k, v in shieldx_services()["credits"]["environment"].items()}
    assert "ok" in config_check(env, tmp_path)
