"""The roles an API key can carry (kept import-light for the CLI)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a key may do; services decide which roles each route accepts."""

    ADMIN = "admin"
    OPERATOR = "operator"
    AUDITOR = "auditor"
    SERVICE = "service"
