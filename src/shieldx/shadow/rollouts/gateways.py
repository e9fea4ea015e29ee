"""Gateways registered for rolling deployments, per tenant, in registration order, and their
heartbeats (deployment_instances: what each gateway measured, for the instance gates)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from shieldx.platform.db import Database
from shieldx.shadow.tables import deployment_gateways, deployment_instances
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
        """Deregister a gateway (and forget its heartbeat); False when it was not registered."""
        t, i = deployment_gateways, deployment_instances
        with self._db.write() as conn:
            conn.execute(i.delete().where(i.c.tenant == tenant, i.c.gateway_id == gateway_id))
            deleted = conn.execute(
                t.delete().where(t.c.tenant == tenant, t.c.gateway_id == gateway_id)
            ).rowcount
            return bool(deleted)

    def heartbeat(self, beat: Heartbeat) -> bool:
        """Record a registered gateway's heartbeat; False when it is not registered."""
        t, i = deployment_gateways, deployment_instances
        values = {
            "last_heartbeat_at": beat.at,
            "requests": beat.requests,
            "error_rate": beat.error_rate,
            "latency_p95_ms": beat.latency_p95_ms,
        }
        with self._db.write() as conn:
            known = conn.execute(
                sa.select(t.c.gateway_id).where(
                    t.c.tenant == beat.tenant, t.c.gateway_id == beat.gateway_id
                )
            ).first()
            if known is None:
                return False
            where = (i.c.tenant == beat.tenant, i.c.gateway_id == beat.gateway_id)
            if not conn.execute(i.update().where(*where).values(**values)).rowcount:
                conn.execute(
                    i.insert().values(tenant=beat.tenant, gateway_id=beat.gateway_id, **values)
                )
            return True

    def heartbeats(self, tenant: str) -> dict[str, Heartbeat]:
        """The last heartbeat of each of the tenant's gateways that sent one."""
        i = deployment_instances
        with self._db.read() as conn:
            rows = conn.execute(sa.select(i).where(i.c.tenant == tenant)).all()
        return {
            m["gateway_id"]: Heartbeat(
                tenant=m["tenant"],
                gateway_id=m["gateway_id"],
                at=utc(m["last_heartbeat_at"]),
                requests=int(m["requests"]),
                error_rate=float(m["error_rate"]),
                latency_p95_ms=float(m["latency_p95_ms"]),
            )
            for m in (row._mapping for row in rows)
        }


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """What a gateway measured over its last interval, as it reported it."""

    tenant: str
    gateway_id: str
    at: datetime
    requests: int
    error_rate: float
    latency_p95_ms: float
