"""Who may call what on the shadow service, and how a request names its tenant.

- readers (every role): look at rule sets, tests, results, deployments, flags;
- gateways (service, operator, admin keys): decide, feed traffic, register, evaluate flags;
- writers (operator, admin): create rule sets, tests, deployments and flags, and operate them.

A tenant-scoped key always acts on its own tenant (naming another is a 403); an unscoped
key names the tenant with ?tenant=. Objects addressed by id (tests, deployments) belong to
a tenant: another tenant's key gets a 404, as if they did not exist.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from shieldx.platform.app import Caller, requires
from shieldx.platform.auth import Principal
from shieldx.platform.roles import Role

GATEWAY_ROLES = (Role.ADMIN, Role.OPERATOR, Role.SERVICE)
Reader = Caller
Gateway = Annotated[Principal, Depends(requires(*GATEWAY_ROLES))]
Writer = Annotated[Principal, Depends(requires(Role.ADMIN, Role.OPERATOR))]
TenantQuery = Annotated[
    str | None,
    Query(
        max_length=128,
        description="The tenant to act on (unscoped keys only; a scoped key acts on its own).",
    ),
]
