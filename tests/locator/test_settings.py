"""Locator settings: bounds and the rules between them."""

from __future__ import annotations

from typing import Any

import pytest

from shieldx.config import ConfigError, load_settings
from shieldx.locator.tokens.service import issuer_of, policy_of


def _settings(**locator: Any) -> Any:
    return load_settings(None, environ={}, overrides={"locator": locator})


def test_defaults() -> None:
    settings = _settings()
    policy = policy_of(settings)
    assert (policy.default_ttl, policy.min_ttl, policy.max_ttl, policy.leeway) == (
        900,
        30,
        86400,
        30,
    )
    assert settings.locator.oidc.enabled is False


def test_issuer_defaults_to_host_and_port_and_drops_a_trailing_slash() -> None:
    assert issuer_of(_settings()) == "http://127.0.0.1:8080"
    assert issuer_of(_settings(issuer="https://auth.example/")) == "https://auth.example"
    ipv6 = load_settings(None, environ={}, overrides={"server": {"host": "::1"}})
    assert issuer_of(ipv6) == "http://[::1]:8080"


@pytest.mark.parametrize(
    ("locator", "message"),
    [
        ({"default_ttl": "2d"}, "min_ttl <= default_ttl <= max_ttl"),
        ({"min_ttl": "0s"}, "1s <= min_ttl"),
        ({"max_ttl": "31d", "key_grace_period": "31d"}, "at most 30d"),
        ({"key_grace_period": "1h"}, "key_grace_period must be at least locator.max_ttl"),
        ({"clock_skew": "10m"}, "at most 5m"),
        ({"verified_cache_size": -1}, "greater than or equal to 0"),
    ],
)
def test_inconsistent_settings_are_refused_with_a_reason(
    locator: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        _settings(**locator)


def test_environment_variables_reach_the_locator_section() -> None:
    settings = load_settings(
        None,
        environ={"SHIELDX_LOCATOR_DEFAULT_TTL": "5m", "SHIELDX_LOCATOR_OIDC_ENABLED": "false"},
    )
    assert settings.locator.default_ttl.total_seconds() == 300
