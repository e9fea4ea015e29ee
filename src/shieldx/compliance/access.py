"""Who may use the compliance routes: unscoped admins and operators act, auditors read."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from shieldx.platform.app import requires
from shieldx.platform.auth import Principal
from shieldx.platform.errors import Problem
from shieldx.platform.roles import Role


async def _unscoped(principal: Principal) -> Principal:
    if principal.tenant is not None:
        raise Problem(
            403,
            "compliance spans every tenant: use an unscoped admin, operator or auditor key",
            type="forbidden",
        )
    return principal


async def reader(
    principal: Annotated[Principal, Depends(requires(Role.ADMIN, Role.OPERATOR, Role.AUDITOR))],
) -> Principal:
    """An unscoped admin, operator or auditor."""
    return await _unscoped(principal)


async def writer(
    principal: Annotated[Principal, Depends(requires(Role.ADMIN, Role.OPERATOR))],
) -> Principal:
    """An unscoped admin or operator (assessments and acknowledgements write rows)."""
    return await _unscoped(principal)


Reader = Annotated[Principal, Depends(reader)]
Writer = Annotated[Principal, Depends(writer)]
