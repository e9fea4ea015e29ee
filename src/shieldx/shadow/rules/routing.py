"""What each tenant's traffic runs through, loaded from the database into one immutable snapshot.

The hot path reads only this snapshot: the tenant's enforced split (stable and candidate
rule sets, compiled) and its running A/B tests. Loading it is blocking work (a few queries,
compilations only for versions not yet cached) done in a worker thread; the new snapshot
replaces the old one in a single assignment, and only when it is at least as new.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import structlog

from shieldx.platform.db import Database
from shieldx.shadow.experiments.store import Experiment, ExperimentStore
from shieldx.shadow.rollouts.domain import Phase
from shieldx.shadow.rollouts.traffic_rules import RulesetRef, TrafficRule, read_rules
from shieldx.shadow.rules.catalog import RuleSetCatalog, UnknownRuleSet
from shieldx.shadow.rules.domain import InvalidRuleSet, RuleSet
from shieldx.shadow.versions import read_versions

log = structlog.get_logger("shieldx.shadow")


@dataclass(frozen=True, slots=True)
class RunningExperiment:
    """A running A/B test, ready to evaluate: both rule sets compiled."""

    id: str
    control: RuleSet
    candidate: RuleSet
    split: float
    sticky_key: str
    hash_seed: str  # units are assigned by murmur3("hash_seed:unit")


@dataclass(frozen=True, slots=True)
class Route:
    """A tenant's enforced split with its rule sets compiled (stable None: nothing enforced)."""

    tenant: str
    stable: RuleSet | None
    sticky_key: str
    candidate: RuleSet | None = None
    percentage: float = 0.0
    gateways: frozenset[str] | None = None
    deployment_id: str | None = None
    stage_seq: int | None = None
    shadow_all: bool = False


@dataclass(frozen=True, slots=True)
class RoutingSnapshot:
    """Everything the decide and traffic paths need, as of one routing version."""

    version: int = -1
    routes: Mapping[str, Route] = field(default_factory=dict)
    experiments: Mapping[str, tuple[RunningExperiment, ...]] = field(default_factory=dict)
    #: Per tenant, the static cost bound of one decision (decision_cost).
    costs: Mapping[str, int] = field(default_factory=dict)


def load_routing(
    db: Database, catalog: RuleSetCatalog, experiments: ExperimentStore
) -> RoutingSnapshot:
    """Blocking: read the traffic rules and running tests and compile what they use."""
    with db.read() as conn:
        version = read_versions(conn).routing
        rules = read_rules(conn)
        running = experiments.running(conn)
    routes = {}
    for rule in rules:
        route = _route(rule, catalog)
        if route is not None:
            routes[rule.tenant] = route
    by_tenant: dict[str, list[RunningExperiment]] = {}
    for experiment in sorted(running, key=lambda e: e.id):
        loaded = _experiment(experiment, catalog)
        if loaded is not None:
            by_tenant.setdefault(experiment.tenant, []).append(loaded)
    snapshot = RoutingSnapshot(
        version, routes, {tenant: tuple(items) for tenant, items in by_tenant.items()}
    )
    tenants = set(snapshot.routes) | set(snapshot.experiments)
    costs = {tenant: decision_cost(snapshot, tenant) for tenant in tenants}
    return dataclasses.replace(snapshot, costs=costs)


def tenant_rulesets(snapshot: RoutingSnapshot, tenant: str) -> list[RuleSet]:
    """The distinct rule sets one decision for TENANT evaluates (enforced, shadow, tests)."""
    found: dict[int, RuleSet] = {}
    route = snapshot.routes.get(tenant)
    candidates: list[RuleSet | None] = []
    if route is not None:
        candidates += [route.stable, route.candidate]
    for experiment in snapshot.experiments.get(tenant, ()):
        candidates += [experiment.control, experiment.candidate]
    for ruleset in candidates:
        if ruleset is not None:
            found.setdefault(id(ruleset), ruleset)
    return list(found.values())


def decision_cost(snapshot: RoutingSnapshot, tenant: str) -> int:
    """The static cost bound of one /shadow/decide for TENANT."""
    return sum(r.cost for r in tenant_rulesets(snapshot, tenant))


def traffic_cost(experiments: Sequence[RunningExperiment]) -> int:
    """The static cost bound of one mirror record: both rule sets of every running test."""
    return sum(e.control.cost + e.candidate.cost for e in experiments)


def _compiled(catalog: RuleSetCatalog, tenant: str, ref: RulesetRef | None) -> RuleSet | None:
    if ref is None:
        return None
    return catalog.get(tenant, ref[0], ref[1])


def _route(rule: TrafficRule, catalog: RuleSetCatalog) -> Route | None:
    try:
        stable = _compiled(catalog, rule.tenant, rule.stable)
        candidate = _compiled(catalog, rule.tenant, rule.candidate)
    except (UnknownRuleSet, InvalidRuleSet) as exc:
        # Stored versions never change, so this means a damaged database or rules that an
        # upgraded compiler refuses: serve the other tenants and say which one is broken.
        log.error("shadow.route_unloadable", tenant=rule.tenant, error=str(exc))
        return None
    gateways = None if rule.candidate_gateways is None else frozenset(rule.candidate_gateways)
    return Route(
        tenant=rule.tenant,
        stable=stable,
        sticky_key=rule.sticky_key,
        candidate=candidate,
        percentage=rule.candidate_percentage,
        gateways=gateways,
        deployment_id=rule.deployment_id,
        stage_seq=rule.stage_seq,
        shadow_all=rule.phase is Phase.ANALYSIS,
    )


def _experiment(experiment: Experiment, catalog: RuleSetCatalog) -> RunningExperiment | None:
    try:
        control = catalog.get(experiment.tenant, *experiment.control)
        candidate = catalog.get(experiment.tenant, *experiment.candidate)
    except (UnknownRuleSet, InvalidRuleSet) as exc:
        log.error("shadow.test_unloadable", test_id=experiment.id, error=str(exc))
        return None
    return RunningExperiment(
        experiment.id,
        control,
        candidate,
        experiment.split,
        experiment.sticky_key,
        experiment.hash_seed,
    )
