"""The compliance settings refuse channel settings that could not work, naming the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from shieldx.config import ConfigError, load_settings, masked


def test_a_webhook_needs_its_signing_secret_and_smtp_its_recipients() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, {}, {"compliance": {"channels": {"webhook_url": "http://x/h"}}})
    assert "webhook_url needs webhook_secret" in str(caught.value)
    with pytest.raises(ConfigError, match="smtp_host needs mail_to"):
        load_settings(None, {}, {"compliance": {"channels": {"smtp_host": "127.0.0.1"}}})


def test_the_webhook_secret_is_never_shown(tmp_path: Path) -> None:
    settings = load_settings(
        None,
        {"SHIELDX_COMPLIANCE_CHANNELS_WEBHOOK_SECRET": "s3cret-value"},
        {"compliance": {"channels": {"webhook_url": "http://x/h"}}},
    )
    assert "s3cret-value" not in str(masked(settings))
    with pytest.raises(ConfigError) as caught:
        load_settings(
            None,
            {"SHIELDX_COMPLIANCE_CHANNELS_WEBHOOK_SECRET": "s3cret-value"},
            {"compliance": {"channels": {"webhook_url": "http://x/h", "syslog_port": 0}}},
        )
    assert "s3cret-value" not in str(caught.value)
