"""Encryption at rest: AES-256-GCM with key ids, so keys can rotate without re-encrypting."""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shieldx.config import Settings

_VERSION = "v1"
_NONCE_BYTES = 12
KEY_FILE_NAME = "encryption.keys"


class DecryptionError(Exception):
    """A ciphertext could not be opened: unknown key id, wrong context or tampering."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_key() -> bytes:
    """A fresh random 256-bit key."""
    return AESGCM.generate_key(bit_length=256)


@dataclass(frozen=True)
class Keyring:
    """Named AES-256-GCM keys; the active one encrypts, all of them decrypt."""

    keys: Mapping[str, bytes]
    active_id: str
    _ciphers: dict[str, AESGCM] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.active_id not in self.keys:
            raise ValueError(f"active key id {self.active_id!r} is not among the keys")
        for kid, key in self.keys.items():
            if len(key) != 32:
                raise ValueError(f"key {kid!r} must be 32 bytes for AES-256 (got {len(key)})")
            self._ciphers[kid] = AESGCM(key)

    def encrypt(self, plaintext: bytes, context: str) -> str:
        """Seal PLAINTEXT; CONTEXT (e.g. 'credits.payment:acct-1') is bound as associated data."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._ciphers[self.active_id].encrypt(nonce, plaintext, context.encode())
        return f"{_VERSION}.{self.active_id}.{_b64(nonce + sealed)}"

    def decrypt(self, token: str, context: str) -> bytes:
        """Open a value sealed by encrypt() with the same CONTEXT."""
        try:
            version, kid, body = token.split(".", 2)
        except ValueError as exc:
            raise DecryptionError("not an encrypted value") from exc
        if version != _VERSION:
            raise DecryptionError(f"unknown format {version!r}")
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise DecryptionError(f"unknown key id {kid!r}: add the retired key to the keyring")
        raw = _unb64(body)
        try:
            return cipher.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode())
        except InvalidTag as exc:
            raise DecryptionError("ciphertext or context does not match") from exc

    def key_id_of(self, token: str) -> str:
        """The id of the key that sealed TOKEN (to find values that need re-encryption)."""
        return token.split(".", 2)[1]


def key_file_path(settings: Settings) -> Path:
    """Where the generated key file lives unless configured otherwise."""
    return settings.security.encryption_key_file or settings.data_dir / "keys" / KEY_FILE_NAME


def read_key_file(path: Path) -> dict[str, bytes]:
    """Parse 'kid base64key' lines; the last line is the newest key."""
    keys: dict[str, bytes] = {}
    for number, line in enumerate(path.read_text(encoding="ascii").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            kid, encoded = line.split()
            keys[kid] = _unb64(encoded)
        except ValueError as exc:
            raise ValueError(f"{path}:{number}: expected 'KEY_ID BASE64_KEY'") from exc
    return keys


def append_key(path: Path, kid: str | None = None) -> str:
    """Add a new random key to the key file (created 0600) and return its id."""
    kid = kid or f"k{secrets.token_hex(4)}"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="ascii") as handle:
        handle.write(f"{kid} {_b64(new_key())}\n")
    return kid


def load_keyring(settings: Settings, *, create: bool = True) -> Keyring:
    """Keys from config/env first, else the key file (generated on first start when CREATE)."""
    configured = {
        kid: _unb64(secret.get_secret_value())
        for kid, secret in settings.security.encryption_keys.items()
    }
    path = key_file_path(settings)
    file_keys: dict[str, bytes] = {}
    if path.exists():
        file_keys = read_key_file(path)
    elif not configured and create:
        append_key(path)
        file_keys = read_key_file(path)
    keys = {**file_keys, **configured}
    if not keys:
        raise ValueError(f"no encryption keys: configure security.encryption_keys or create {path}")
    active = settings.security.active_key_id or (
        next(reversed(configured)) if configured else next(reversed(file_keys))
    )
    return Keyring(keys=keys, active_id=active)
