"""Request bodies of the camouflage management API (responses are plain JSON documents)."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, Field

from shieldx.platform.schemas import RequestModel
from shieldx.platform.schemas import UtcTime as UtcTime

SESSION_ID = r"^[0-9a-f]{16}$"
DECOY_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
METHOD = r"^[!#$%&'*+.^_`|~0-9A-Za-z\-]{1,32}$"


def _ip_text(value: Any) -> str:
    try:
        return str(ipaddress.ip_address(str(value)))
    except ValueError:
        raise ValueError(f"{value!r} is not an IPv4 or IPv6 address") from None


SourceIp = Annotated[str, BeforeValidator(_ip_text)]
# Counts land in JSON documents and integer columns: both stop at 64 bits.
MAX_COUNT = 2**63 - 1
Path = Annotated[str, Field(min_length=1, max_length=8192, pattern=r"^/")]
Header = tuple[
    Annotated[str, Field(min_length=1, max_length=256)], Annotated[str, Field(max_length=8192)]
]
Headers = Annotated[list[Header], Field(max_length=100)]


class Body(RequestModel):
    """Strict bodies: unknown fields and control characters are errors."""

    model_config = ConfigDict(extra="forbid")


class SelectContext(Body):
    """Who is asking for a decoy, and (for /adaptive) what they asked."""

    source_ip: SourceIp
    source_port: int = Field(0, ge=0, le=65535)
    user_agent: str | None = Field(None, max_length=512)
    port: int | None = Field(None, ge=0, le=65535)
    path: Path = "/"
    method: str = Field("GET", pattern=METHOD)
    headers: Headers = Field(default_factory=list)


class SelectRequest(Body):
    """POST /select and POST /v1/camouflage/adaptive."""

    context: SelectContext


class FeedbackRequest(Body):
    """POST /feedback: a session's reward in [0, 1]."""

    session_id: str = Field(pattern=SESSION_ID)
    reward: float = Field(ge=0.0, le=1.0)


class PreviewContext(Body):
    """Optional request details for a template preview."""

    headers: Headers = Field(default_factory=list)
    server_name: str = Field("localhost", min_length=1, max_length=253)
    port: int = Field(80, ge=1, le=65535)


class PreviewRequest(Body):
    """POST /v1/camouflage/template/{name}."""

    path: Path
    method: str = Field("GET", pattern=METHOD)
    context: PreviewContext = Field(default_factory=PreviewContext)


class SessionOpen(Body):
    """POST /v1/camouflage/session: a session an external sensor is about to report."""

    decoy: str = Field(pattern=DECOY_NAME)
    template: str = Field("external", min_length=1, max_length=64)
    source_ip: SourceIp
    source_port: int = Field(0, ge=0, le=65535)
    user_agent: str = Field("", max_length=512)


class ReconReport(Body):
    """One recon attempt seen by an external sensor, in the camouflage.request schema."""

    # What the attacker sent, as sent: its body and header values may hold tabs and newlines.
    multiline_fields = frozenset({"body", "headers"})

    time: UtcTime | None = None
    decoy: str = Field(pattern=DECOY_NAME)
    template: str = Field("external", min_length=1, max_length=64)
    source_ip: SourceIp
    source_port: int = Field(0, ge=0, le=65535)
    method: str = Field(pattern=METHOD)
    target: str = Field("", max_length=8192)
    path: Path
    query: str = Field("", max_length=8192)
    http_version: str = Field("HTTP/1.1", max_length=16)
    headers: Headers = Field(default_factory=list)
    body: str = Field("", max_length=65536)
    body_length: int | None = Field(None, ge=0, le=MAX_COUNT)
    status: int = Field(0, ge=0, le=999)
    bytes_sent: int = Field(0, ge=0, le=MAX_COUNT)
    malformed: bool = False
    session_id: str | None = Field(None, pattern=SESSION_ID)


class LogRequest(Body):
    """POST /v1/camouflage/log: a batch of reports (bounded by recording.log_batch_max)."""

    events: list[ReconReport] = Field(min_length=1, max_length=10_000)
