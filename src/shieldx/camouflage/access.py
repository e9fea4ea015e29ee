"""Who may call the camouflage management API, and the service object its routes act on.

Decoys are platform-wide infrastructure, not tenant data: attackers belong to no tenant. So
the management API takes unscoped keys only (a tenant-scoped key gets 403) and splits by
role: admin, operator and auditor read; admin, operator and service keys act (select,
feedback, sensor reports).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends

from shieldx.camouflage.runtime import CamouflageService
from shieldx.platform.app import current_principal, provided
from shieldx.platform.auth import Principal, require_role
from shieldx.platform.errors import Problem
from shieldx.platform.roles import Role

READERS = (Role.ADMIN, Role.OPERATOR, Role.AUDITOR)
ACTORS = (Role.ADMIN, Role.OPERATOR, Role.SERVICE)
EVERYONE = (Role.ADMIN, Role.OPERATOR, Role.AUDITOR, Role.SERVICE)


def platform_wide(*roles: Role) -> Any:
    """A dependency admitting unscoped keys with one of ROLES."""

    async def dependency(
        principal: Annotated[Principal, Depends(current_principal)],
    ) -> Principal:
        require_role(principal, roles)
        if principal.tenant is not None:
            raise Problem(
                403,
                "camouflage is platform-wide infrastructure: use a key that is not scoped "
                f"to a tenant (this one is scoped to {principal.tenant!r})",
                type="tenant-forbidden",
            )
        return principal

    return Depends(dependency)


Reader = Annotated[Principal, platform_wide(*READERS)]
Actor = Annotated[Principal, platform_wide(*ACTORS)]
Anyone = Annotated[Principal, platform_wide(*EVERYONE)]
# The running service the component built (component.py provides it).
Camouflage = Annotated[CamouflageService, Depends(provided(CamouflageService))]
