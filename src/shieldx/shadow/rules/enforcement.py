"""The hot paths: the enforced decision for a gateway (/shadow/decide) and the mirror feed.

decide() does no I/O: it reads the routing snapshot, evaluates the compiled rule sets, adds
to in-memory counters and returns plain data. A rule set that several roles share in one
request (the stable version is also a test's control, say) is evaluated once.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from shieldx.shadow.experiments.tallies import ExperimentTally, PendingCounts
from shieldx.shadow.flags.domain import Variant, assign_variant, sticky_unit
from shieldx.shadow.metrics import ShadowMetrics
from shieldx.shadow.rules.domain import Action, Decision, RuleSet
from shieldx.shadow.rules.records import Label, RequestRecord
from shieldx.shadow.rules.routing import Route, RoutingSnapshot

#: The verdict where no rule set is enforced yet (a first deployment's stable share).
NOTHING_ENFORCED = Decision(Action.ALLOW, None)


class NoRoute(LookupError):
    """Nothing has been deployed for the tenant."""


#: Consecutive candidate decisions with a rule failure that open a deployment's breaker.
BREAKER_ERRORS = 20


class CandidateBreakers:
    """Circuit breakers on the candidate of each running deployment, in this process.

    A candidate whose decisions fail (a rule evaluation error) BREAKER_ERRORS times in a row
    opens its breaker: from the next request on this process serves the old version instead,
    and the controller rolls the deployment back (trigger `circuit_breaker`) on its next
    round, without waiting for the stage's gates. A decision without errors closes the count.
    """

    def __init__(self, threshold: int = BREAKER_ERRORS) -> None:
        self.threshold = threshold
        self.failures: dict[str, int] = {}
        self.open: dict[str, str] = {}

    def observe(self, deployment_id: str, decision: Decision) -> None:
        """Count one decision the candidate enforced."""
        if not decision.errors:
            if self.failures.get(deployment_id):
                self.failures[deployment_id] = 0
            return
        count = self.failures.get(deployment_id, 0) + 1
        self.failures[deployment_id] = count
        if count >= self.threshold and deployment_id not in self.open:
            first = decision.errors[0]
            self.open[deployment_id] = (
                f"circuit breaker open: {count} candidate decisions in a row failed "
                f"(last: rule {first.rule_id!r}: {first.message})"
            )

    def reason(self, deployment_id: str) -> str | None:
        """Why the deployment's breaker is open (None while closed)."""
        return self.open.get(deployment_id)

    def keep(self, deployment_ids: set[str]) -> None:
        """Forget deployments that are no longer running."""
        for table in (self.failures, self.open):
            for gone in [d for d in table if d not in deployment_ids]:
                del table[gone]


def _entry(
    source: str, owner: str | None, ruleset: RuleSet | None, decision: Decision
) -> dict[str, Any]:
    return {
        "source": source,
        "id": owner,
        "ruleset": ruleset.name if ruleset else None,
        "version": ruleset.version if ruleset else None,
        "action": decision.action.value,
        "rule_id": decision.rule_id,
        "matched_rules": list(decision.matched),
    }


def _on_candidate(route: Route, record: RequestRecord, gateway: str | None) -> bool:
    if route.candidate is None:
        return False
    if route.gateways is not None:
        return gateway is not None and gateway in route.gateways
    if route.percentage >= 100.0:
        return True
    if route.percentage <= 0.0 or route.deployment_id is None:
        return False
    unit = sticky_unit(record, route.sticky_key)
    return assign_variant(route.deployment_id, unit, route.percentage) is Variant.CANDIDATE


class Enforcer:
    """Decides requests and counts traffic against the current routing snapshot."""

    def __init__(self, *, pending: PendingCounts, metrics: ShadowMetrics) -> None:
        self.pending = pending
        self.metrics = metrics
        self.snapshot = RoutingSnapshot()
        self.breakers = CandidateBreakers()

    def install(self, snapshot: RoutingSnapshot) -> bool:
        """Adopt SNAPSHOT unless a newer one is already installed."""
        if snapshot.version < self.snapshot.version:
            return False
        self.snapshot = snapshot
        self.breakers.keep(
            {r.deployment_id for r in snapshot.routes.values() if r.deployment_id is not None}
        )
        self.metrics.keep_tests(e.id for tests in snapshot.experiments.values() for e in tests)
        return True

    def decide(
        self,
        tenant: str,
        record: RequestRecord,
        *,
        label: Label | None = None,
        gateway: str | None = None,
        snapshot: RoutingSnapshot | None = None,
        known: Mapping[int, Decision] | None = None,
    ) -> dict[str, Any]:
        """The enforced decision for one request, with the shadow decisions beside it.

        KNOWN holds decisions already made (in a worker process) by id of their rule set in
        SNAPSHOT, the snapshot they were made against; anything else is evaluated here.
        """
        snapshot = snapshot or self.snapshot
        route = snapshot.routes.get(tenant)
        if route is None:
            raise NoRoute(tenant)
        started = time.perf_counter()
        seen: dict[int, Decision] = dict(known) if known else {}

        def run(ruleset: RuleSet | None) -> Decision:
            if ruleset is None:
                return NOTHING_ENFORCED
            decision = seen.get(id(ruleset))
            if decision is None:
                decision = seen[id(ruleset)] = ruleset.decide(record)
            return decision

        on_candidate = _on_candidate(route, record, gateway)
        breakers = self.breakers
        if on_candidate and breakers.open and route.deployment_id in breakers.open:
            on_candidate = False  # the breaker is open: the old version serves everyone
        enforced_set = route.candidate if on_candidate else route.stable
        enforced = run(enforced_set)
        if on_candidate and route.deployment_id is not None:
            breakers.observe(route.deployment_id, enforced)
        shadow: list[dict[str, Any]] = []
        if route.candidate is not None:
            other_set = route.stable if on_candidate else route.candidate
            other = run(other_set)
            role = "baseline" if on_candidate else "candidate"
            shadow.append(_entry(role, route.deployment_id, other_set, other))
            self.metrics.shadowed[other.action].inc()
            if route.stage_seq is not None and route.deployment_id is not None:
                if on_candidate:
                    self.pending.stage(route.deployment_id, route.stage_seq).observe(
                        enforced, other, label
                    )
                elif route.shadow_all:
                    self.pending.stage(route.deployment_id, route.stage_seq).observe(
                        other, enforced, label
                    )
        for experiment in snapshot.experiments.get(tenant, ()):
            control, candidate = run(experiment.control), run(experiment.candidate)
            unit = sticky_unit(record, experiment.sticky_key)
            variant = assign_variant(experiment.hash_seed, unit, experiment.split)
            self.pending.test(experiment.id).observe(
                variant, control, candidate, label, record["ip"], self.pending.client_bound
            )
            shadow.append(_entry("test", experiment.id, experiment.candidate, candidate))
            self.metrics.shadowed[candidate.action].inc()
        self.metrics.decide_seconds.observe(time.perf_counter() - started)
        self.metrics.enforced[enforced.action].inc()
        return {
            "action": enforced.action.value,
            "ruleset": enforced_set.name if enforced_set else None,
            "version": enforced_set.version if enforced_set else None,
            "rule_id": enforced.rule_id,
            "matched_rules": list(enforced.matched),
            "deployment": route.deployment_id,
            "shadow": shadow,
        }

    def count_traffic(
        self, tallies: Sequence[Mapping[str, ExperimentTally]], timings: Sequence[float]
    ) -> None:
        """Add evaluated traffic to the pending counts and the metrics."""
        bound = self.pending.client_bound
        for part in tallies:
            for test_id, tally in part.items():
                self.pending.test(test_id).merge(tally, bound)
        observe = self.metrics.traffic_seconds.observe
        for seconds in timings:
            observe(seconds)
