"""What every check may look at: the settings, the database, the keyring and the listeners."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from shieldx.compliance.checks.domain import Outcome
from shieldx.config import Settings
from shieldx.platform.crypto import Keyring
from shieldx.platform.db import Database


@dataclass(frozen=True)
class CheckContext:
    """One assessment's view of the platform.

    `targets` maps each service to the base URL of its listener; `api_key` is the caller's
    key, forwarded to the routes that need one (the audit verification): an assessment sees
    only what its caller may see.
    """

    settings: Settings
    db: Database
    keyring: Keyring
    targets: Mapping[str, str]
    http: httpx.AsyncClient
    api_key: str | None
    now: datetime
    # The live rate limiters' configuration (what the middleware really applies).
    limiters: Mapping[str, tuple[float, float]]


Check = Callable[[CheckContext, Mapping[str, Any]], Awaitable[Outcome]]
