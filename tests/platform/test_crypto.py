"""AES-256-GCM at rest with key ids and rotation."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Callable

import pytest

from shieldx.config import Settings
from shieldx.platform.crypto import (
    DecryptionError,
    Keyring,
    append_key,
    key_file_path,
    load_keyring,
    new_key,
)


def test_round_trip_binds_the_context() -> None:
    ring = Keyring(keys={"k1": new_key()}, active_id="k1")
    sealed = ring.encrypt(b"4242424242424242", "credits.payment:acct-1")
    assert b"4242" not in sealed.encode()
    assert ring.decrypt(sealed, "credits.payment:acct-1") == b"4242424242424242"
    with pytest.raises(DecryptionError, match="context"):
        ring.decrypt(sealed, "credits.payment:acct-2")


def test_tampering_is_detected() -> None:
    ring = Keyring(keys={"k1": new_key()}, active_id="k1")
    sealed = ring.encrypt(b"secret", "ctx")
    head, body = sealed.rsplit(".", 1)
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    with pytest.raises(DecryptionError):
        ring.decrypt(f"{head}.{flipped}", "ctx")
    with pytest.raises(DecryptionError, match="not an encrypted value"):
        ring.decrypt("garbage", "ctx")


def test_rotation_keeps_old_values_readable() -> None:
    old = Keyring(keys={"k1": new_key()}, active_id="k1")
    sealed = old.encrypt(b"v", "c")
    rotated = Keyring(keys={**old.keys, "k2": new_key()}, active_id="k2")
    assert rotated.decrypt(sealed, "c") == b"v"
    assert rotated.key_id_of(rotated.encrypt(b"v", "c")) == "k2"
    retired = Keyring(keys={"k2": rotated.keys["k2"]}, active_id="k2")
    with pytest.raises(DecryptionError, match="unknown key id 'k1'"):
        retired.decrypt(sealed, "c")


def test_wrong_key_length_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Keyring(keys={"k": b"short"}, active_id="k")


def test_first_start_generates_a_private_key_file(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    ring = load_keyring(settings)
    path = key_file_path(settings)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = load_keyring(settings)
    assert again.keys == ring.keys
    new_id = append_key(path)
    assert load_keyring(settings).active_id == new_id


def test_configured_keys_take_precedence(make_settings: Callable[..., Settings]) -> None:
    encoded = base64.urlsafe_b64encode(new_key()).decode()
    settings = make_settings(security={"encryption_keys": {"prod-1": encoded}})
    ring = load_keyring(settings)
    assert ring.active_id == "prod-1"
    assert not key_file_path(settings).exists()
