"""Field types and the strict base model shared by the sub-packages' request bodies."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, Field

from shieldx.platform.schemas import RequestModel
from shieldx.platform.schemas import UtcTime as UtcTime

SESSION_ID = r"^[0-9a-f]{16}$"
DECOY_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
METHOD = r"^[!#$%&'*+.^_`|~0-9A-Za-z\-]{1,32}$"


def _ip_text(value: Any) -> str:
    try:
        return str(ipaddress.ip_address(str(value)))
    except ValueError:
        raise ValueError(f"{value!r} is not an IPv4 or IPv6 address") from None


SourceIp = Annotated[str, BeforeValidator(_ip_text)]
# Counts land in JSON documents and integer columns: both stop at 64 bits.
MAX_COUNT = 2**63 - 1
Path = Annotated[str, Field(min_length=1, max_length=8192, pattern=r"^/")]
Header = tuple[
    Annotated[str, Field(min_length=1, max_length=256)], Annotated[str, Field(max_length=8192)]
]
Headers = Annotated[list[Header], Field(max_length=100)]


class Body(RequestModel):
    """Strict bodies: unknown fields and control characters are errors."""

    model_config = ConfigDict(extra="forbid")
