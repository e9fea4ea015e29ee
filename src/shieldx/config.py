"""Typed settings: one YAML file, overridden by SHIELDX_* variables, loaded once and passed in."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import PydanticBaseSettingsSource

from shieldx.camouflage.settings import CamouflageSettings
from shieldx.chaos.settings import ChaosSettings
from shieldx.compliance.settings import ComplianceSettings
from shieldx.credits.settings import (
    CreditsSettings,
    EventSourcingSettings,
    ShardingSettings,
)
from shieldx.dr.settings import DisasterRecoverySettings
from shieldx.locator.settings import LocatorSettings
from shieldx.platform.cluster import ClusterSettings
from shieldx.platform.settings_types import Duration, Section
from shieldx.platform.siem.settings import SiemSettings
from shieldx.platform.tracing import ObservabilitySettings
from shieldx.shadow.settings import DeploymentSettings, ShadowSettings

ENV_PREFIX = "SHIELDX_"
# Variables read by the CLI itself rather than mapped onto a settings key.
# SHIELDX_TESTING=1 with SHIELDX_TEST_CRASH_AT=<step>: the crash tests' fault points (see
# shieldx.credits.shards.service.crash_point); nothing reads the second without the first.
NON_SETTING_ENV = frozenset(
    {
        "SHIELDX_CONFIG",
        "SHIELDX_BOOTSTRAP_ADMIN_KEY",
        "SHIELDX_API_KEY",
        "SHIELDX_TESTING",
        "SHIELDX_TEST_CRASH_AT",
    }
)

# Keys (or whole sections) that validate but that no code reads yet. `config check` warns
# when a file or the environment sets one, docs/configuration.md marks each, and
# tests/test_config.py fails for any key that nothing reads and that is not listed here.
# Remove an entry in the change that makes its key do what it says.
NO_EFFECT_YET: dict[str, str] = {
    "sharding.replication_factor": "read replicas are not built yet",
    "sharding.consistency_level": "read replicas are not built yet",
    "sharding.rebalance_enabled": "online rebalancing is not built yet",
    "compliance.auto_remediation": "automatic remediation is not built yet",
    "event_sourcing.retention_days": "nothing reads it yet",
    "event_sourcing.event_bus_size": "nothing reads it yet",
    "event_sourcing.worker_count": "nothing reads it yet",
}


class CorsSettings(Section):
    """Cross-origin requests: off unless origins are listed."""

    allow_origins: list[str] = Field(default_factory=list)
    allow_methods: list[str] = Field(default_factory=lambda: ["GET", "POST", "PUT", "DELETE"])
    allow_headers: list[str] = Field(
        default_factory=lambda: ["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"]
    )
    max_age: int = Field(600, ge=0, le=86_400)


class TlsSettings(Section):
    """TLS on every service listener: on when a certificate and its key are set."""

    certfile: Path | None = None
    keyfile: Path | None = None
    min_version: Literal["1.2", "1.3"] = "1.3"
    # A CA bundle (PEM): when set, every client must present a certificate it issued (mTLS).
    client_ca: Path | None = None

    @model_validator(mode="after")
    def _complete(self) -> TlsSettings:
        if (self.certfile is None) != (self.keyfile is None):
            raise ValueError("server.tls.certfile and server.tls.keyfile must be set together")
        if self.client_ca is not None and self.certfile is None:
            raise ValueError("server.tls.client_ca needs server.tls.certfile and keyfile")
        return self

    @property
    def enabled(self) -> bool:
        """Whether the listeners speak TLS."""
        return self.certfile is not None


class ServerSettings(Section):
    """HTTP listeners and the limits every service applies."""

    host: str = "127.0.0.1"
    shutdown_timeout: Duration = timedelta(seconds=15)
    access_log: bool = True
    max_body_bytes: int = Field(1_048_576, ge=1024, le=1_073_741_824)
    max_header_bytes: int = Field(16_384, ge=1024, le=1_048_576)
    max_headers: int = Field(100, ge=8, le=1000)
    keepalive_timeout: Duration = timedelta(seconds=5)
    # A connection whose request head is not complete this long after it began is closed.
    header_timeout: Duration = timedelta(seconds=10)
    # Open connections per process, all listeners together; one more is refused with a 503.
    max_connections: int = Field(4096, ge=1, le=1_000_000)
    # Requests without a valid API key (missing, malformed, unknown, and the public paths but
    # the probes) are rate limited per client address: a token bucket each, the least
    # recently seen addresses forgotten beyond anonymous_max_addresses.
    anonymous_rate: float = Field(20.0, gt=0, le=1_000_000)
    anonymous_burst: int = Field(200, ge=1, le=10_000_000)
    anonymous_max_addresses: int = Field(100_000, ge=1, le=10_000_000)
    hsts: bool = False
    cors: CorsSettings = CorsSettings()
    tls: TlsSettings = TlsSettings()


class DatabaseSettings(Section):
    """Where data lives: the embedded SQLite file unless a URL says otherwise."""

    url: SecretStr | None = None
    pool_size: int = Field(10, ge=1, le=500)
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    busy_timeout: Duration = timedelta(seconds=5)
    auto_migrate: bool = True
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _known_driver(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return value
        url = value.get_secret_value()
        if not url.startswith(("sqlite:///", "postgresql+psycopg://")):
            raise ValueError(
                "database.url must start with sqlite:/// or postgresql+psycopg:// "
                f"(got {url.split(':', 1)[0]}://…)"
            )
        return value


class RateLimitSettings(Section):
    """Token buckets per API key and per tenant; tokens are requests."""

    enabled: bool = True
    key_rate: float = Field(1000.0, gt=0, le=1_000_000)
    key_burst: int = Field(2000, ge=1, le=10_000_000)
    tenant_rate: float = Field(2000.0, gt=0, le=1_000_000)
    tenant_burst: int = Field(4000, ge=1, le=10_000_000)


class SecuritySettings(Section):
    """API keys, rate limits and encryption at rest."""

    api_key_cache: Duration = timedelta(seconds=2)
    rate_limit: RateLimitSettings = RateLimitSettings()
    encryption_keys: dict[str, SecretStr] = Field(default_factory=dict)
    active_key_id: str | None = None
    encryption_key_file: Path | None = None
    # Admin operations (keys, signing-key rotation, chaos runs, DR failover) need a TOTP code.
    admin_mfa: bool = False

    @field_validator("encryption_keys")
    @classmethod
    def _key_ids(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for kid in value:
            if not kid or not kid.replace("-", "").replace("_", "").isalnum() or len(kid) > 32:
                raise ValueError(f"key id {kid!r} must be 1-32 letters, digits, '-' or '_'")
        return value


class LoggingSettings(Section):
    """Structured logs on standard error."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "console"] = "json"


class Settings(Section):
    """The whole configuration; every section has working defaults."""

    data_dir: Path = Path(".shieldx")
    server: ServerSettings = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    security: SecuritySettings = SecuritySettings()
    logging: LoggingSettings = LoggingSettings()
    credits: CreditsSettings = CreditsSettings()
    shadow: ShadowSettings = ShadowSettings()
    camouflage: CamouflageSettings = CamouflageSettings()
    locator: LocatorSettings = LocatorSettings()
    event_sourcing: EventSourcingSettings = EventSourcingSettings()
    sharding: ShardingSettings = ShardingSettings()
    chaos: ChaosSettings = ChaosSettings()
    disaster_recovery: DisasterRecoverySettings = DisasterRecoverySettings()
    deployment: DeploymentSettings = DeploymentSettings()
    compliance: ComplianceSettings = ComplianceSettings()
    siem: SiemSettings = SiemSettings()
    observability: ObservabilitySettings = ObservabilitySettings()
    cluster: ClusterSettings = ClusterSettings()

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL in effect: the configured one or the embedded SQLite file."""
        if self.database.url is not None:
            return self.database.url.get_secret_value()
        return f"sqlite:///{self.data_dir.resolve() / 'shieldx.db'}"


class ConfigError(Exception):
    """The configuration cannot be used; the message names each bad key."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _leaf_paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Yield the dotted path of every settings key, descending into sections."""
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from _leaf_paths(annotation, (*prefix, name))
        else:
            yield (*prefix, name)


def _field_at(path: tuple[str, ...]) -> FieldInfo:
    model: type[BaseModel] = Settings
    info: FieldInfo | None = None
    for part in path:
        info = model.model_fields[part]
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            model = info.annotation
    assert info is not None
    return info


def env_names() -> dict[str, tuple[str, ...]]:
    """Map each accepted variable name to its settings path (both _ and __ separators)."""
    names: dict[str, tuple[str, ...]] = {}
    for path in _leaf_paths(Settings):
        for sep in ("_", "__"):
            names[ENV_PREFIX + sep.join(path).upper()] = path
    return names


def _is_structured(info: FieldInfo) -> bool:
    origin = get_origin(info.annotation)
    if origin in (list, dict):
        return True
    return any(get_origin(arg) in (list, dict) for arg in get_args(info.annotation))


class ShieldxEnvSource(PydanticBaseSettingsSource):
    """SHIELDX_SECTION_KEY (or SECTION__KEY) variables; lists and maps are JSON or comma lists."""

    def __init__(self, settings_cls: type[BaseModel], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)  # type: ignore[arg-type]
        self.environ = environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Unused: the whole environment is read at once in __call__."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        """Return the nested dict of every SHIELDX_* override, rejecting unknown names."""
        known = env_names()
        values: dict[str, Any] = {}
        unknown: list[str] = []
        for name, raw in self.environ.items():
            if not name.startswith(ENV_PREFIX) or name in NON_SETTING_ENV:
                continue
            path = known.get(name)
            if path is None:
                unknown.append(name)
                continue
            value: Any = raw
            if _is_structured(_field_at(path)):
                value = _parse_structured(name, raw)
            _set_path(values, path, value)
        if unknown:
            raise ConfigError(
                [
                    f"{name}: unknown setting variable (see docs/configuration.md for the list)"
                    for name in sorted(unknown)
                ]
            )
        return values


def _parse_structured(name: str, raw: str) -> Any:
    text = raw.strip()
    if text.startswith(("[", "{")):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                [f"{name}: not valid JSON ({exc.msg} at column {exc.colno})"]
            ) from exc
    return [item.strip() for item in text.split(",") if item.strip()]


def _set_path(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = value


def deep_merge(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Merge nested dicts; later layers win key by key."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
                merged[key] = deep_merge(merged[key], value)
            else:
                merged[key] = value
    return merged


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a config file; syntax errors name the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read config file ({exc.strerror})"]) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError([f"{path}: not valid YAML{where}"]) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: the top level must be a mapping of sections"])
    return data


def _describe(error: Mapping[str, Any]) -> str:
    key = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        parent = tuple(str(p) for p in error["loc"][:-1])
        allowed = sorted(_allowed_keys(parent))
        hint = f"; allowed: {', '.join(allowed)}" if allowed else ""
        return f"{key}: unknown key{hint}"
    value = error.get("input")
    shown = "***" if _is_secret_path(key) else repr(value)
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{key}: {message} (got {shown})"


def _allowed_keys(parent: tuple[str, ...]) -> list[str]:
    model: type[BaseModel] = Settings
    for part in parent:
        info = model.model_fields.get(part)
        if info is None or not (
            isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel)
        ):
            return []
        model = info.annotation
    return list(model.model_fields)


def _is_secret_path(key: str) -> bool:
    return key.startswith(
        (
            "database.url",
            "security.encryption_keys",
            "compliance.channels.webhook_secret",
            "siem.splunk.token",
            "cluster.redis_url",
        )
    )


def load_settings(
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the settings from defaults < YAML file < SHIELDX_* environment < explicit overrides."""
    env = os.environ if environ is None else environ
    if config_file is None and env.get("SHIELDX_CONFIG"):
        config_file = Path(env["SHIELDX_CONFIG"])
    file_layer = read_yaml(config_file) if config_file is not None else {}
    env_layer = ShieldxEnvSource(Settings, env)()
    merged = deep_merge(file_layer, env_layer, overrides or {})
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError([_describe(err) for err in exc.errors()]) from exc


def no_effect_reason(path: tuple[str, ...]) -> str | None:
    """Why the key at PATH has no effect yet, or None if it does what it says."""
    for depth in range(len(path), 0, -1):
        reason = NO_EFFECT_YET.get(".".join(path[:depth]))
        if reason is not None:
            return reason
    return None


def _set_leaves(
    layer: Mapping[str, Any], prefix: tuple[str, ...] = ()
) -> Iterator[tuple[str, ...]]:
    leaves = set(_leaf_paths(Settings))
    for key, value in layer.items():
        path = (*prefix, str(key))
        if isinstance(value, Mapping) and path not in leaves:
            yield from _set_leaves(value, path)
        else:
            yield path


def ineffective_settings(
    config_file: Path | None = None, environ: Mapping[str, str] | None = None
) -> list[str]:
    """A warning for each key the file or the environment sets that has no effect yet."""
    env = os.environ if environ is None else environ
    if config_file is None and env.get("SHIELDX_CONFIG"):
        config_file = Path(env["SHIELDX_CONFIG"])
    file_layer = read_yaml(config_file) if config_file is not None else {}
    merged = deep_merge(file_layer, ShieldxEnvSource(Settings, env)())
    warnings = []
    for path in _set_leaves(merged):
        reason = no_effect_reason(path)
        if reason is not None:
            warnings.append(f"{'.'.join(path)}: has no effect yet ({reason}); it is ignored")
    return warnings


def masked(settings: Settings) -> dict[str, Any]:
    """The effective configuration as plain data, with secrets replaced by '***'."""
    data: dict[str, Any] = settings.model_dump(mode="json")
    url = settings.database.url
    if url is not None:
        data["database"]["url"] = _mask_url(url.get_secret_value())
    data["security"]["encryption_keys"] = dict.fromkeys(settings.security.encryption_keys, "***")
    redis_url = settings.cluster.redis_url
    if redis_url is not None:
        data["cluster"]["redis_url"] = _mask_url(redis_url.get_secret_value())
    return data


def _mask_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}"


def reference_markdown() -> str:
    """A Markdown table of every key: dotted name, type, default and environment variable."""
    defaults = Settings().model_dump(mode="json")
    rows = ["| key | type | default | environment variable |", "|---|---|---|---|"]
    for path in _leaf_paths(Settings):
        value: Any = defaults
        for part in path:
            value = value[part]
        if path == ("database", "url"):
            value = "sqlite:///<data_dir>/shieldx.db"
        info = _field_at(path)
        kind = _type_name(info.annotation)
        shown = json.dumps(value) if not isinstance(value, str) else value
        env = ENV_PREFIX + "_".join(path).upper()
        mark = " (no effect yet)" if no_effect_reason(path) is not None else ""
        rows.append(f"| `{'.'.join(path)}`{mark} | {kind} | `{shown}` | `{env}` |")
    return "\n".join(rows) + "\n"


def _type_name(annotation: Any) -> str:
    if annotation is timedelta or "timedelta" in repr(annotation):
        return "duration"
    text = repr(annotation) if not isinstance(annotation, type) else annotation.__name__
    for noise in ("typing.", "pydantic.types.", "pathlib.", "<class '", "'>"):
        text = text.replace(noise, "")
    return text.replace("|", "or")
