"""Gateways registered for rolling deployments, per tenant, in registration order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from shieldx.platform.db import Database
from shieldx.shadow.tables import deployment_gateways
from shieldx.shadow.timeutil import utc


@dataclass(frozen=True, slots=True)
class Gateway:
    """A gateway that calls /shadow/decide with its id."""

    tenant: str
    gateway_id: str
    description: str
    registered_at: datetime


class GatewayStore:
    """Blocking access to registered gateways."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def register(self, tenant: str, gateway_id: str, description: str, now: datetime) -> bool:
        """Register a gateway; False when it was already registered (nothing changes)."""
        t = deployment_gateways
        with self._db.write() as conn:
            exists = conn.execute(
                sa.select(t.c.gateway_id).where(t.c.tenant == tenant, t.c.gateway_id == gateway_id)
            ).first()
            if exists is not None:
                return False
            conn.execute(
                t.insert().values(
                    tenant=tenant, gateway_id=gateway_id, description=description, registered_at=now
                )
            )
            return True

    def for_tenant(self, tenant: str) -> list[Gateway]:
        """The tenant's gateways, in the order a rolling deployment moves them."""
        t = deployment_gateways
        query = sa.select(t).where(t.c.tenant == tenant).order_by(t.c.registered_at, t.c.gateway_id)
        with self._db.read() as conn:
            return [
                Gateway(m["tenant"], m["gateway_id"], m["description"], utc(m["registered_at"]))
                for m in (row._mapping for row in conn.execute(query))
            ]

    def remove(self, tenant: str, gateway_id: str) -> bool:
        """Deregister a gateway; False when it was not registered."""
        t = deployment_gateways
        with self._db.write() as conn:
            deleted = conn.execute(
                t.delete().where(t.c.tenant == tenant, t.c.gateway_id == gateway_id)
            ).rowcount
            return bool(deleted)
