"""Configuration: YAML, SHIELDX_* overrides, validation messages, masking."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

import pytest

from shieldx.config import (
    NO_EFFECT_YET,
    ConfigError,
    Settings,
    _leaf_paths,
    env_names,
    ineffective_settings,
    load_settings,
    masked,
    no_effect_reason,
    reference_markdown,
)
from shieldx.platform.settings_types import format_duration, parse_duration


def test_defaults_follow_the_seed() -> None:
    settings = load_settings(None, environ={})
    assert settings.event_sourcing.snapshot_interval == 100
    # The seed's 8 shards would move every default install off its one database: one shard
    # (the main database, unsharded) is the default; docs/configuration.md says so.
    assert settings.sharding.num_shards == 1
    assert settings.sharding.virtual_nodes == 256
    assert settings.chaos.experiment_interval == timedelta(minutes=5)
    assert settings.deployment.canary_percentage == [10, 25, 50, 100]
    assert settings.disaster_recovery.rto == timedelta(minutes=5)
    assert settings.compliance.alert_thresholds.high == 0.1
    assert (settings.credits.port, settings.shadow.port) == (5004, 5005)
    assert (settings.camouflage.port, settings.locator.port) == (8089, 8080)


def test_yaml_file_sets_values(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "sharding:\n  num_shards: 16\nchaos:\n  experiment_interval: 90s\n"
        "server:\n  cors:\n    allow_origins: [https://a.example]\n"
    )
    settings = load_settings(path, environ={})
    assert settings.sharding.num_shards == 16
    assert settings.chaos.experiment_interval == timedelta(seconds=90)
    assert settings.server.cors.allow_origins == ["https://a.example"]


def test_environment_overrides_file_with_either_separator(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("sharding:\n  num_shards: 16\n  virtual_nodes: 64\n")
    env = {
        "SHIELDX_SHARDING_NUM_SHARDS": "32",
        "SHIELDX_SHARDING__VIRTUAL_NODES": "128",
        "SHIELDX_EVENT_SOURCING_SNAPSHOT_INTERVAL": "50",
        "SHIELDX_CHAOS_SAFE_HOURS": "1, 2,3",
        "SHIELDX_SERVER_CORS_ALLOW_ORIGINS": '["https://x.example"]',
        "SHIELDX_DATABASE_URL": "postgresql+psycopg://u:pw@db/x",
        "PATH": "/bin",
    }
    settings = load_settings(path, environ=env)
    assert settings.sharding.num_shards == 32
    assert settings.sharding.virtual_nodes == 128
    assert settings.event_sourcing.snapshot_interval == 50
    assert settings.chaos.safe_hours == [1, 2, 3]
    assert settings.server.cors.allow_origins == ["https://x.example"]
    assert settings.database_url == "postgresql+psycopg://u:pw@db/x"


def test_overrides_win_over_environment() -> None:
    settings = load_settings(
        None, environ={"SHIELDX_CREDITS_PORT": "6000"}, overrides={"credits": {"port": 7000}}
    )
    assert settings.credits.port == 7000


def test_unknown_key_names_the_key_and_what_is_allowed(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("sharding:\n  num_shrads: 4\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path, environ={})
    message = str(err.value)
    assert "sharding.num_shrads: unknown key" in message
    assert "num_shards" in message


def test_out_of_range_names_key_value_and_limit(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("sharding:\n  num_shards: 0\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path, environ={})
    assert "sharding.num_shards" in str(err.value)
    assert "greater than or equal to 1" in str(err.value)
    assert "(got 0)" in str(err.value)


def test_wrong_type_and_bad_duration_are_both_reported(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("chaos:\n  enabled: maybe\n  experiment_interval: soon\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path, environ={})
    assert len(err.value.problems) == 2
    assert any(p.startswith("chaos.enabled") and "'maybe'" in p for p in err.value.problems)
    assert any("chaos.experiment_interval" in p and "duration" in p for p in err.value.problems)


def test_unknown_environment_variable_is_an_error() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(None, environ={"SHIELDX_SHARDING_NUM_SHRADS": "4"})
    assert "SHIELDX_SHARDING_NUM_SHRADS" in str(err.value)


def test_cli_only_variables_are_not_settings() -> None:
    settings = load_settings(None, environ={"SHIELDX_BOOTSTRAP_ADMIN_KEY": "x" * 30})
    assert settings == Settings()


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("server:\n  host: [unclosed\n")
    with pytest.raises(ConfigError, match="line"):
        load_settings(path, environ={})


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_settings(path, environ={})


def test_database_url_scheme_is_checked() -> None:
    with pytest.raises(ConfigError, match=r"database\.url"):
        load_settings(None, environ={"SHIELDX_DATABASE_URL": "mysql://x"})


def test_masked_hides_passwords_and_keys() -> None:
    settings = load_settings(
        None,
        environ={
            "SHIELDX_DATABASE_URL": "postgresql+psycopg://alice:s3cret@db:5432/x",
            "SHIELDX_SECURITY_ENCRYPTION_KEYS": '{"k1": "c2VjcmV0"}',
        },
    )
    shown = masked(settings)
    assert shown["database"]["url"] == "postgresql+psycopg://alice:***@db:5432/x"
    assert shown["security"]["encryption_keys"] == {"k1": "***"}
    assert "s3cret" not in repr(shown)


def test_every_variable_name_maps_to_one_key() -> None:
    names = env_names()
    paths_by_name: dict[str, set[tuple[str, ...]]] = {}
    for name, path in names.items():
        paths_by_name.setdefault(name, set()).add(path)
    assert all(len(paths) == 1 for paths in paths_by_name.values())
    assert names["SHIELDX_DATA_DIR"] == ("data_dir",)
    assert names["SHIELDX_DATABASE_URL"] == ("database", "url")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("500ms", 0.5), ("30s", 30), ("5m", 300), ("1h", 3600), ("2d", 172800), (15, 15), ("7", 7)],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


def test_duration_round_trips_through_its_format() -> None:
    for text in ("500ms", "30s", "5m", "1h", "2d", "90s"):
        assert format_duration(parse_duration(text)) in {text, "1m30s", "90s"}


SRC = Path(__file__).resolve().parents[1] / "src" / "shieldx"
# Where settings are declared (not read): a field name appearing here proves nothing.
DECLARATIONS = {"config.py", "settings.py", "settings_types.py"}


def _attributes_read_in_src() -> set[str]:
    names: set[str] = set()
    for path in SRC.rglob("*.py"):
        if path.name in DECLARATIONS:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute):
                names.add(node.attr)
    return names


def test_every_key_is_read_somewhere_or_marked_as_having_no_effect() -> None:
    read = _attributes_read_in_src()
    unread = [
        ".".join(path)
        for path in _leaf_paths(Settings)
        if not all(part in read for part in path) and no_effect_reason(path) is None
    ]
    assert unread == [], (
        f"no code reads {unread}: make them do what they say, or add them to "
        "shieldx.config.NO_EFFECT_YET (and the docs mark them)"
    )


def test_the_no_effect_list_names_only_real_keys_that_nothing_reads() -> None:
    read = _attributes_read_in_src()
    paths = {".".join(p) for p in _leaf_paths(Settings)}
    for entry in NO_EFFECT_YET:
        under = [p for p in paths if p == entry or p.startswith(entry + ".")]
        assert under, f"NO_EFFECT_YET names {entry!r}, which is not a settings key"
        # A key that some code reads has an effect: take it off the list.
        leaf_read = [p for p in under if p.split(".")[-1] in read and entry.split(".")[0] in read]
        assert leaf_read == [], f"{leaf_read} are read now; remove {entry!r} from NO_EFFECT_YET"


def test_ineffective_settings_warns_for_keys_set_in_file_or_environment(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("sharding:\n  rebalance_enabled: false\nserver:\n  host: 0.0.0.0\n")
    warnings = ineffective_settings(path, {"SHIELDX_EVENT_SOURCING_WORKER_COUNT": "3"})
    assert [w.split(":")[0] for w in warnings] == [
        "sharding.rebalance_enabled",
        "event_sourcing.worker_count",
    ]
    assert all("has no effect yet" in w for w in warnings)
    assert ineffective_settings(None, {}) == []
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert ineffective_settings(empty, {}) == []


def test_the_docs_mark_exactly_the_keys_with_no_effect() -> None:
    doc = (SRC.parents[1] / "docs" / "configuration.md").read_text(encoding="utf-8")
    table = doc[doc.index("| key | type | default | environment variable |") :]
    assert reference_markdown().strip() in table, (
        "docs/configuration.md's key table differs from `shieldx config reference`: "
        "paste that command's output into the table"
    )
    for path in _leaf_paths(Settings):
        marked = f"`{'.'.join(path)}` (no effect yet)" in table
        assert marked == (no_effect_reason(path) is not None), ".".join(path)


@pytest.mark.parametrize(
    "text", ["٣s", "²", "99999999999d", "1e309", "-1s", "3651d", "NaN", "", "5 years"]
)
def test_a_duration_setting_is_ascii_finite_and_bounded(text: str) -> None:
    """Unicode digits, overflowing and negative durations are clear errors, never a crash."""
    with pytest.raises(ValueError, match="a duration is a number of seconds"):
        parse_duration(text)
    for number in (float("inf"), float("nan"), 2.0**64, -1):
        with pytest.raises(ValueError, match="between 0s and 3650d"):
            parse_duration(number)
    assert parse_duration("1.5m").total_seconds() == 90
