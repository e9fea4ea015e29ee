"""Settings sections owned by the camouflage service."""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from pathlib import Path
from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from shieldx.platform.settings_types import Duration, Port, Section, format_duration

_DECOY_NAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,63}$")
_PREFIX = re.compile(r"^/([A-Za-z0-9_.\-]+/)+$")
HoneytokenKind = Literal["api_key", "jwt", "password", "cloud_key"]
ALL_HONEYTOKEN_KINDS: list[HoneytokenKind] = ["api_key", "jwt", "password", "cloud_key"]


def _check_prefixes(value: list[str], what: str) -> list[str]:
    bad = [p for p in value if not _PREFIX.match(p) or ".." in p]
    if bad:
        raise ValueError(
            f"{what} must be paths like '/backup/' (start and end with '/', letters, digits, "
            f"'_', '-', '.'; not '/' alone); got {bad}"
        )
    return value


class DecoySpec(Section):
    """One decoy listener: its name, the bundled template it mimics and its address."""

    name: str
    template: str
    # None: server.host (loopback by default; set 0.0.0.0 to face the network).
    host: str | None = None
    port: Port
    # The name the server calls itself on requests without a Host (Apache's ServerName).
    server_name: str = Field("localhost", min_length=1, max_length=253)
    # The port its pages claim when the decoy sits behind a port mapping (None: its own).
    public_port: int | None = Field(None, ge=1, le=65535)
    # Maze prefixes for this decoy; None takes camouflage.maze.prefixes.
    maze_prefixes: list[str] | None = None
    # HTTPS: a self-signed certificate for server_name (like Debian's snakeoil, made once
    # per install and decoy), the mimicked server's default TLS settings, JA4 in the events.
    tls: bool = False

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _DECOY_NAME.match(value):
            raise ValueError(
                "a decoy name is 1-64 lower-case letters, digits, '.', '_' or '-' "
                f"and starts with a letter or digit (got {value!r})"
            )
        return value

    @field_validator("template")
    @classmethod
    def _bundled(cls, value: str) -> str:
        # Imported here: reading the template list is only needed when decoys are configured.
        from shieldx.camouflage.decoys.templates import list_templates

        names = [info.name for info in list_templates()]
        if value not in names:
            raise ValueError(f"unknown template {value!r}; bundled templates: {', '.join(names)}")
        return value

    @field_validator("maze_prefixes")
    @classmethod
    def _prefixes(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _check_prefixes(value, "maze_prefixes")


class SessionSettings(Section):
    """How requests group into attacker sessions (source address + User-Agent)."""

    # TANNER's default: a session ends after 75 s without a request.
    idle_timeout: Duration = timedelta(seconds=75)
    # The cap on live sessions; beyond it the least recently active one is closed (LRU).
    max_live: int = Field(10_000, ge=10, le=1_000_000)
    # Distinct paths remembered per session; beyond it distinct_paths stops growing.
    max_tracked_paths: int = Field(256, ge=8, le=65_536)
    # Engagement threshold: a session that reaches any of these is "engaged" (reward 1).
    engaged_min_requests: int = Field(5, ge=1, le=1_000_000)
    engaged_min_duration: Duration = timedelta(seconds=30)
    engaged_min_maze_depth: int = Field(2, ge=1, le=1000)
    sweep_interval: Duration = timedelta(seconds=1)


class RecordingSettings(Section):
    """Where events go and how much of each request is kept."""

    jsonl: bool = True
    # None: <data_dir>/camouflage/events.jsonl
    jsonl_path: Path | None = None
    max_body_bytes: int = Field(4096, ge=0, le=8192)
    max_headers: int = Field(64, ge=1, le=64)
    max_header_value: int = Field(1024, ge=16, le=1024)
    max_path_chars: int = Field(2048, ge=64, le=8192)
    # Events waiting for the writer; beyond it new events are dropped and counted.
    max_queue: int = Field(50_000, ge=1000, le=10_000_000)
    max_batch: int = Field(5000, ge=1, le=100_000)
    flush_interval: Duration = timedelta(milliseconds=200)
    # CIDRs whose X-Forwarded-For is believed (empty: the peer address is the source).
    trusted_proxies: list[str] = Field(default_factory=list)
    # The largest batch POST /v1/camouflage/log accepts.
    log_batch_max: int = Field(1000, ge=1, le=10_000)
    api_max_body_bytes: int = Field(8_388_608, ge=65_536, le=67_108_864)

    @field_validator("trusted_proxies")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"{cidr!r} is not an address or CIDR like 10.0.0.0/8") from None
        return value


class DecoyLimitSettings(Section):
    """Caps that tighten every decoy's own limits (0 keeps the mimicked server's value)."""

    request_line: int = Field(0, ge=0, le=65_536)
    header_line: int = Field(0, ge=0, le=65_536)
    header_count: int = Field(0, ge=0, le=1000)
    body: int = Field(0, ge=0, le=1_073_741_824)
    max_connections: int = Field(4096, ge=1, le=100_000)


class WebhookSettings(Section):
    """Events POSTed (HMAC-SHA256 signed) to allow-listed URLs only; off when urls is empty."""

    urls: list[str] = Field(default_factory=list)
    secret: SecretStr | None = None
    events: list[str] = Field(
        default_factory=lambda: ["camouflage.honeytoken.used", "camouflage.session.closed"]
    )
    timeout: Duration = timedelta(seconds=5)
    max_queue: int = Field(10_000, ge=10, le=1_000_000)
    batch_size: int = Field(100, ge=1, le=1000)
    retries: int = Field(3, ge=0, le=10)
    # The URLs come from the operator's own config, so private receivers are allowed by
    # default; false applies the platform's target filter (shieldx.platform.targets).
    allow_private_targets: bool = True

    @field_validator("urls")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        for url in value:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"webhook URLs must be http(s)://host/… (got {url!r})")
        return value

    @model_validator(mode="after")
    def _secret_when_on(self) -> Self:
        if self.urls and (self.secret is None or len(self.secret.get_secret_value()) < 16):
            raise ValueError(
                "camouflage.webhook.urls needs camouflage.webhook.secret (at least 16 characters): "
                "every delivery is signed with HMAC-SHA256"
            )
        return self


class MazeSettings(Section):
    """The endless deterministic site under path prefixes of each decoy."""

    enabled: bool = True
    prefixes: list[str] = Field(default_factory=lambda: ["/backup/", "/files/", "/uploads/"])
    # A robots.txt disallowing the prefixes (a map for scrapers, but default installs have
    # none: off unless wanted).
    robots_txt: bool = False
    # HMAC key for page seeds and link markers; None: generated once, stored encrypted.
    secret: SecretStr | None = None
    entries_min: int = Field(6, ge=1, le=200)
    entries_max: int = Field(24, ge=1, le=500)
    records_min: int = Field(20, ge=1, le=5000)
    records_max: int = Field(120, ge=1, le=5000)
    # Fraction of one core page generation may use; over it, pages are served lean.
    cpu_budget: float = Field(0.25, gt=0.0, le=1.0)
    tarpit_min_delay: Duration = timedelta(0)
    tarpit_max_delay: Duration = timedelta(0)
    tarpit_max_concurrent: int = Field(256, ge=0, le=100_000)
    page_cache: int = Field(512, ge=0, le=100_000)

    @field_validator("prefixes")
    @classmethod
    def _prefixes(cls, value: list[str]) -> list[str]:
        return _check_prefixes(value, "camouflage.maze.prefixes")

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.entries_min > self.entries_max or self.records_min > self.records_max:
            raise ValueError("camouflage.maze: *_min must not exceed *_max")
        if not timedelta(0) <= self.tarpit_min_delay <= self.tarpit_max_delay:
            raise ValueError("camouflage.maze: need 0 <= tarpit_min_delay <= tarpit_max_delay")
        if self.tarpit_max_delay > timedelta(seconds=30):
            raise ValueError(
                "camouflage.maze.tarpit_max_delay must be at most 30s "
                f"(got {format_duration(self.tarpit_max_delay)})"
            )
        return self


class BanditSettings(Section):
    """Thompson sampling over the configured decoys (Beta posterior on "engaged")."""

    prior_alpha: float = Field(1.0, gt=0.0, le=1000.0)
    prior_beta: float = Field(1.0, gt=0.0, le=1000.0)
    # None: fresh entropy; a number makes selection reproducible (tests, simulations).
    seed: int | None = Field(None, ge=0)
    # Monte Carlo draws behind GET /graph's probability_best (seeded, so repeatable).
    monte_carlo_samples: int = Field(20_000, ge=100, le=1_000_000)
    sticky_cache: int = Field(100_000, ge=100, le=10_000_000)


class HoneytokenSettings(Section):
    """Credentials planted in decoy and maze pages, recognised wherever they are presented."""

    kinds: list[HoneytokenKind] = Field(default_factory=lambda: list(ALL_HONEYTOKEN_KINDS))
    # Decoy paths (outside the maze) that serve a config file full of honeytokens.
    bait_paths: list[str] = Field(
        default_factory=lambda: ["/.env", "/.git/config", "/.aws/credentials"]
    )
    # How often uses recorded by other processes are read (honeytoken_uses).
    poll_interval: Duration = timedelta(seconds=2)
    # The 'iss' of planted JWTs; None: https://auth.<the decoy's fictitious application domain>.
    jwt_issuer: str | None = None

    @field_validator("bait_paths")
    @classmethod
    def _paths(cls, value: list[str]) -> list[str]:
        bad = [p for p in value if not p.startswith("/") or ".." in p or len(p) > 200]
        if bad:
            raise ValueError(f"bait paths are absolute paths without '..' (got {bad})")
        return value


class CamouflageSettings(Section):
    """The camouflage management API (:8089); decoys listen on their own ports."""

    port: Port = 8089
    # The sensor name in every event (None: the host name).
    sensor: str | None = Field(None, max_length=64)
    decoys: list[DecoySpec] = Field(default_factory=list)
    sessions: SessionSettings = SessionSettings()
    recording: RecordingSettings = RecordingSettings()
    limits: DecoyLimitSettings = DecoyLimitSettings()
    webhook: WebhookSettings = WebhookSettings()
    maze: MazeSettings = MazeSettings()
    bandit: BanditSettings = BanditSettings()
    honeytokens: HoneytokenSettings = HoneytokenSettings()

    @model_validator(mode="after")
    def _distinct_decoys(self) -> Self:
        names = [d.name for d in self.decoys]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"camouflage.decoys: names must be unique (repeated: {dupes})")
        ports = [(d.host, d.port) for d in self.decoys if d.port]
        clash = sorted({p for h, p in ports if ports.count((h, p)) > 1})
        if clash:
            raise ValueError(f"camouflage.decoys: two decoys on the same port {clash}")
        if any(d.port == self.port and d.port for d in self.decoys):
            raise ValueError(
                f"camouflage.decoys: port {self.port} is the management API's (camouflage.port)"
            )
        return self
