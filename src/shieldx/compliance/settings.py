"""The `compliance` settings section (seed: compliance)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field, SecretStr, model_validator

from shieldx.platform.settings_types import Duration, Section


class AlertThresholds(Section):
    """Share of a framework's failing controls above which a finding of each severity alerts."""

    critical: float = Field(0.0, ge=0.0, le=1.0)
    high: float = Field(0.1, ge=0.0, le=1.0)
    medium: float = Field(0.3, ge=0.0, le=1.0)


class ComplianceChannels(Section):
    """Where compliance alerts go besides the API (each off until configured)."""

    webhook_url: str | None = None
    # HMAC-SHA256 key of the ShieldX-Signature header; required with webhook_url.
    webhook_secret: SecretStr | None = None
    syslog_host: str | None = None
    syslog_port: int = Field(514, ge=1, le=65535)
    # E-mail over SMTP (plain, or STARTTLS when the server offers it), to every address listed.
    smtp_host: str | None = None
    smtp_port: int = Field(25, ge=1, le=65535)
    mail_from: str = "shieldx@localhost"
    mail_to: list[str] = Field(default_factory=list)
    timeout: Duration = timedelta(seconds=5)

    @model_validator(mode="after")
    def _secret_with_url(self) -> ComplianceChannels:
        if self.webhook_url is not None and self.webhook_secret is None:
            raise ValueError("webhook_url needs webhook_secret (the key that signs each delivery)")
        if self.smtp_host is not None and not self.mail_to:
            raise ValueError("smtp_host needs mail_to (the addresses alerts are sent to)")
        return self


# The frameworks shipped in shieldx/compliance/frameworks/data; more come from frameworks_dir.
BUILT_IN_FRAMEWORKS = ["SOC2", "ISO27001", "GDPR", "PCI_DSS"]


class ComplianceSettings(Section):
    """Compliance monitoring (seed: compliance)."""

    enabled_frameworks: list[str] = Field(default_factory=lambda: list(BUILT_IN_FRAMEWORKS))
    # A directory of extra framework files (*.yaml, the same format as the built-in ones).
    frameworks_dir: Path | None = None
    monitoring_interval: Duration = timedelta(hours=1)
    evidence_retention_days: int = Field(365, ge=1, le=36_500)
    auto_remediation: bool = False
    alert_thresholds: AlertThresholds = AlertThresholds()
    # An alert nobody acknowledged this long after it was raised is escalated (sent again,
    # marked escalated).
    escalate_after: Duration = timedelta(hours=4)
    # API keys older than this are findings (the rotation age).
    api_key_max_age_days: int = Field(90, ge=1, le=36_500)
    # The active encryption key older than this is a finding.
    encryption_key_max_age_days: int = Field(365, ge=1, le=36_500)
    channels: ComplianceChannels = ComplianceChannels()
