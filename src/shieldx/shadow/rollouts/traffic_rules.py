"""The enforced split (traffic_rules): one row per tenant, read by every process's router.

The stable version serves everyone; during a deployment the candidate serves a share of
sticky units (canary, blue-green) or the listed gateways (rolling). The row changes only
inside a deployment's transition, in the same transaction as the deployment itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import orjson
import sqlalchemy as sa

from shieldx.shadow.rollouts.domain import Phase
from shieldx.shadow.tables import deployment_environments, traffic_rules

RulesetRef = tuple[str, int]


def ruleset_ref(name: str | None, version: int | None) -> RulesetRef | None:
    """(name, version) from two nullable columns."""
    return None if name is None or version is None else (name, int(version))


@dataclass(frozen=True, slots=True)
class TrafficRule:
    """A tenant's enforced split: stable for everyone, the candidate for a share or gateways."""

    tenant: str
    stable: RulesetRef | None
    sticky_key: str
    candidate: RulesetRef | None = None
    candidate_percentage: float = 0.0
    candidate_gateways: tuple[str, ...] | None = None
    deployment_id: str | None = None
    stage_seq: int | None = None
    phase: Phase | None = None


def read_rules(conn: sa.Connection, tenant: str | None = None) -> list[TrafficRule]:
    """Traffic rules (of every tenant, or of one)."""
    query = sa.select(traffic_rules).order_by(traffic_rules.c.tenant)
    if tenant is not None:
        query = query.where(traffic_rules.c.tenant == tenant)
    return [_rule(row._mapping) for row in conn.execute(query)]


def write_rule(conn: sa.Connection, rule: TrafficRule, at: datetime) -> None:
    """Insert or replace a tenant's traffic rule."""
    values = {
        "stable_name": rule.stable[0] if rule.stable else None,
        "stable_version": rule.stable[1] if rule.stable else None,
        "candidate_name": rule.candidate[0] if rule.candidate else None,
        "candidate_version": rule.candidate[1] if rule.candidate else None,
        "candidate_percentage": rule.candidate_percentage,
        "candidate_gateways": None
        if rule.candidate_gateways is None
        else orjson.dumps(list(rule.candidate_gateways)).decode(),
        "deployment_id": rule.deployment_id,
        "stage_seq": rule.stage_seq,
        "phase": rule.phase.value if rule.phase else None,
        "sticky_key": rule.sticky_key,
        "updated_at": at,
    }
    t = traffic_rules
    if not conn.execute(t.update().where(t.c.tenant == rule.tenant).values(**values)).rowcount:
        conn.execute(t.insert().values(tenant=rule.tenant, **values))
    e = deployment_environments
    conn.execute(e.delete().where(e.c.tenant == rule.tenant))
    for environment, (name, version), percentage in environments_of(rule):
        conn.execute(
            e.insert().values(
                tenant=rule.tenant,
                environment=environment,
                ruleset_name=name,
                ruleset_version=version,
                percentage=percentage,
                deployment_id=rule.deployment_id,
                updated_at=at,
            )
        )


_BLUE_GREEN = (Phase.ANALYSIS, Phase.SWITCH, Phase.POST_PROMOTION)


def environments_of(rule: TrafficRule) -> list[tuple[str, RulesetRef, float]]:
    """(environment, version, share of traffic) of a split: stable alone when settled;
    stable and canary (canary, rolling) or blue and green (blue-green) during a deployment."""
    if rule.candidate is None:
        return [] if rule.stable is None else [("stable", rule.stable, 100.0)]
    old, new = ("blue", "green") if rule.phase in _BLUE_GREEN else ("stable", "canary")
    share = rule.candidate_percentage
    pairs = [(new, rule.candidate, share)]
    if rule.stable is not None:
        pairs.insert(0, (old, rule.stable, 100.0 - share))
    return pairs


def _rule(m: sa.RowMapping) -> TrafficRule:
    gateways = m["candidate_gateways"]
    return TrafficRule(
        tenant=m["tenant"],
        stable=ruleset_ref(m["stable_name"], m["stable_version"]),
        sticky_key=m["sticky_key"],
        candidate=ruleset_ref(m["candidate_name"], m["candidate_version"]),
        candidate_percentage=float(m["candidate_percentage"]),
        candidate_gateways=None if gateways is None else tuple(orjson.loads(gateways)),
        deployment_id=m["deployment_id"],
        stage_seq=None if m["stage_seq"] is None else int(m["stage_seq"]),
        phase=None if m["phase"] is None else Phase(m["phase"]),
    )
