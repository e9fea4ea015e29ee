"""The `siem` settings section: where security events go and how hard to try."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from shieldx.platform.settings_types import Duration, Port, Section
from shieldx.platform.siem.domain import KINDS

# Syslog facility names (RFC 5424 section 6.2.1) and their codes.
FACILITIES: dict[str, int] = {
    "kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6,
    "news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "ntp": 12, "audit": 13,
    "alert": 14, "clock": 15, "local0": 16, "local1": 17, "local2": 18, "local3": 19,
    "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}  # fmt: skip


class SyslogSettings(Section):
    """A syslog receiver: RFC 5424 messages over UDP, TCP or TLS (octet-counted framing)."""

    host: str | None = None
    port: Port = 514
    protocol: Literal["udp", "tcp", "tls"] = "udp"
    format: Literal["cef", "ecs"] = "cef"
    # A facility name of RFC 5424 (kern, user, … auth, authpriv, … local0-local7).
    facility: str = "authpriv"
    # TLS: the CA bundle that signed the receiver's certificate (None: the system's CAs).
    ca_file: Path | None = None
    # TLS: the name the receiver's certificate must carry (None: host).
    server_name: str | None = None
    # A UDP datagram larger than this is not sent (counted as failed); RFC 5426 asks
    # receivers for at least 2048 bytes, rsyslog accepts 8 KiB by default.
    max_message_bytes: int = Field(8192, ge=480, le=65_000)

    @field_validator("facility")
    @classmethod
    def _known_facility(cls, value: str) -> str:
        if value not in FACILITIES:
            raise ValueError(f"siem.syslog.facility must be one of {', '.join(FACILITIES)}")
        return value

    @field_validator("host")
    @classmethod
    def _plain_host(cls, value: str | None) -> str | None:
        if value is not None and (not value or any(c in value for c in "/: \t")):
            raise ValueError(
                f"siem.syslog.host must be a host name or an IPv4 address (got {value!r})"
            )
        return value


class SplunkSettings(Section):
    """A Splunk HTTP Event Collector: JSON events POSTed with `Authorization: Splunk <token>`."""

    # The collector's base URL, e.g. https://splunk.example:8088 (the event path is added).
    url: str | None = None
    token: SecretStr | None = None
    index: str | None = None
    source: str = "shieldx"
    sourcetype: str = "shieldx:security"
    # The CA bundle that signed the collector's certificate (None: the system's CAs).
    ca_file: Path | None = None
    timeout: Duration = timedelta(seconds=5)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError(f"siem.splunk.url must start with https:// or http:// (got {value!r})")
        return value.rstrip("/") if value is not None else None

    @model_validator(mode="after")
    def _token_with_url(self) -> SplunkSettings:
        if self.url is not None and self.token is None:
            raise ValueError(
                "siem.splunk.url needs siem.splunk.token (the HEC token; set it with "
                "SHIELDX_SIEM_SPLUNK_TOKEN rather than in the file)"
            )
        return self


class SiemSettings(Section):
    """Security events exported to a SIEM; off until a syslog host or a Splunk URL is set."""

    syslog: SyslogSettings = SyslogSettings()
    splunk: SplunkSettings = SplunkSettings()
    # Which event ids are exported (see docs/operations.md for the list); empty: all of them.
    events: list[str] = Field(default_factory=list)
    # Events waiting per destination; beyond it new events are dropped and counted.
    max_queue: int = Field(10_000, ge=1, le=10_000_000)
    batch_size: int = Field(100, ge=1, le=10_000)
    # How long the sender waits for a batch to fill before it sends what it has.
    flush_interval: Duration = timedelta(seconds=1)
    # Attempts after the first one, with exponential backoff from retry_backoff (capped at 30 s).
    retries: int = Field(5, ge=0, le=100)
    retry_backoff: Duration = timedelta(milliseconds=500)

    @field_validator("events")
    @classmethod
    def _known_events(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in KINDS]
        if unknown:
            raise ValueError(
                f"siem.events names unknown event ids {unknown}; known: {', '.join(KINDS)}"
            )
        return value

    @property
    def enabled(self) -> bool:
        """Whether any destination is configured."""
        return self.syslog.host is not None or self.splunk.url is not None
