"""Request bodies and response documents of the sensor-report route."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shieldx.camouflage.fields import (
    DECOY_NAME,
    MAX_COUNT,
    METHOD,
    SESSION_ID,
    Body,
    Headers,
    Path,
    SourceIp,
    UtcTime,
)


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
    # The client's JA4 TLS fingerprint, when the sensor terminated TLS (FoxIO's JA4 format).
    ja4: str | None = Field(None, pattern=r"^[tqd][0-9a-z]{9}_[0-9a-f]{12}_[0-9a-f]{12}$")


class LogRequest(Body):
    """POST /v1/camouflage/log: a batch of reports (bounded by recording.log_batch_max)."""

    events: list[ReconReport] = Field(min_length=1, max_length=10_000)


# Responses: documents may grow fields this model does not name yet (they are passed through,
# never dropped); the routes leave out the optional fields a document does not hold.
_OPEN = ConfigDict(extra="allow")


class LogAccepted(BaseModel):
    """POST /v1/camouflage/log: reports recorded and the sessions they went to."""

    model_config = _OPEN

    accepted: int
    sessions: list[str]
