"""Camouflage settings: decoys checked against the bundled templates, bounds, allow-lists."""

from __future__ import annotations

import pytest

from shieldx.config import ConfigError, load_settings


def _load(**camouflage: object) -> object:
    return load_settings(None, environ={}, overrides={"camouflage": camouflage})


def test_defaults() -> None:
    settings = load_settings(None, environ={})
    c = settings.camouflage
    assert c.port == 8089 and c.decoys == []
    assert c.sessions.idle_timeout.total_seconds() == 75
    assert c.recording.trusted_proxies == []
    assert c.webhook.urls == [] and c.maze.secret is None


def test_decoys_must_name_bundled_templates() -> None:
    with pytest.raises(ConfigError) as info:
        _load(decoys=[{"name": "web", "template": "nginx-9", "port": 8081}])
    message = str(info.value)
    assert "camouflage.decoys.0.template" in message
    assert "nginx-1.22.1-debian" in message and "iis-10.0" in message
    ok = load_settings(
        None,
        environ={"SHIELDX_CAMOUFLAGE_DECOYS": '[{"name":"web","template":"iis-10.0","port":8081}]'},
    )
    assert ok.camouflage.decoys[0].template == "iis-10.0"


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"decoys": [{"name": "a", "template": "iis-10.0", "port": 81},
                     {"name": "a", "template": "iis-10.0", "port": 82}]}, "unique"),
        ({"decoys": [{"name": "a", "template": "iis-10.0", "port": 81},
                     {"name": "b", "template": "iis-10.0", "port": 81}]}, "same port"),
        ({"decoys": [{"name": "a", "template": "iis-10.0", "port": 8089}]}, "management API"),
        ({"decoys": [{"name": "Bad Name", "template": "iis-10.0", "port": 81}]}, "decoy name"),
        ({"maze": {"prefixes": ["/"]}}, "maze.prefixes"),
        ({"maze": {"prefixes": ["backup"]}}, "maze.prefixes"),
        ({"maze": {"tarpit_max_delay": "2m"}}, "at most 30s"),
        ({"maze": {"tarpit_min_delay": "5s", "tarpit_max_delay": "1s"}}, "tarpit_min_delay"),
        ({"recording": {"trusted_proxies": ["10.0.0.0/33"]}}, "CIDR"),
        ({"recording": {"max_body_bytes": 100_000}}, "less than or equal"),
        ({"sessions": {"max_live": 1}}, "greater than or equal"),
        ({"webhook": {"urls": ["ftp://example.com/x"]}}, "http(s)"),
        ({"webhook": {"urls": ["https://hooks.example.com/x"]}}, "webhook.secret"),
        ({"honeytokens": {"kinds": ["ssh_key"]}}, "honeytokens.kinds"),
    ],
)  # fmt: skip
def test_bad_values_are_explained(overrides: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load(**overrides)
    assert fragment in str(info.value)


def test_a_webhook_with_a_secret_is_accepted() -> None:
    settings = _load(webhook={"urls": ["https://hooks.example.com/x"], "secret": "s" * 20})
    assert settings.camouflage.webhook.urls == ["https://hooks.example.com/x"]  # type: ignore[attr-defined]
