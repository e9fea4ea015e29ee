"""The roles an API key can carry (kept import-light for the CLI)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a key may do; services decide which roles each route accepts.

    admin: everything; operator: configure and operate the services; service: the machine
    callers (gateways, resource servers, metering); auditor: read only, nowhere a write.
    """

    ADMIN = "admin"
    OPERATOR = "operator"
    AUDITOR = "auditor"
    SERVICE = "service"


# Roles that may only read: the platform refuses them every POST, PUT, PATCH and DELETE
# except routes marked as reads (shieldx.platform.app.reads), before any route runs.
READ_ONLY_ROLES = frozenset({Role.AUDITOR})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
