"""A/B tests, the application layer: create, report, decide, stop (blocking; run in threads)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from shieldx.platform.errors import Problem
from shieldx.shadow.experiments.results import experiment_report, readiness
from shieldx.shadow.experiments.stats import GaussianPrior, Metric, compare
from shieldx.shadow.experiments.store import Experiment, ExperimentStore
from shieldx.shadow.metrics import ShadowMetrics
from shieldx.shadow.rules.catalog import RuleSetCatalog, UnknownRuleSet
from shieldx.shadow.rules.domain import parse_ruleset_ref
from shieldx.shadow.settings import ShadowSettings
from shieldx.shadow.timeutil import Clock


def resolve_ref(catalog: RuleSetCatalog, tenant: str, text: str, field: str) -> tuple[str, int]:
    """Turn "name@version" (or "name": the latest) into a stored (name, version); 422 if absent."""
    try:
        name, version = parse_ruleset_ref(text)
        stored = catalog.stored(tenant, name, version)
    except ValueError as exc:
        raise Problem(422, f"{field}: {exc}", type="invalid-ruleset-ref") from None
    except UnknownRuleSet as exc:
        raise Problem(422, f"{field}: {exc}", type="unknown-ruleset") from None
    return stored.name, stored.version


class ExperimentService:
    """Creates and ends A/B tests and builds their reports."""

    def __init__(
        self,
        *,
        store: ExperimentStore,
        catalog: RuleSetCatalog,
        settings: ShadowSettings,
        metrics: ShadowMetrics,
        clock: Clock,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.settings = settings
        self.metrics = metrics
        self.clock = clock

    def create(
        self,
        *,
        tenant: str,
        name: str,
        control: str,
        candidate: str,
        split: float,
        metric: Metric,
        prior: GaussianPrior,
        min_samples: int,
        sticky_key: str | None,
        created_by: str,
        seed: str | None = None,
    ) -> Experiment:
        """Start a test of CANDIDATE against CONTROL on the tenant's traffic."""
        control_ref = resolve_ref(self.catalog, tenant, control, "control")
        candidate_ref = resolve_ref(self.catalog, tenant, candidate, "candidate")
        if control_ref == candidate_ref:
            raise Problem(
                422,
                f"control and candidate are both {control_ref[0]}@{control_ref[1]}; "
                "compare two different versions",
                type="same-ruleset",
            )
        limit = self.settings.max_running_tests
        if self.store.running_count(tenant) >= limit:
            raise Problem(
                409,
                f"tenant {tenant!r} already runs {limit} tests (shadow.max_running_tests); "
                "decide or stop one first",
                type="too-many-tests",
            )
        experiment = Experiment(
            id="abt_" + secrets.token_hex(8),
            tenant=tenant,
            name=name,
            control=control_ref,
            candidate=candidate_ref,
            split=split,
            metric=metric,
            prior=prior,
            min_samples=min_samples,
            sticky_key=sticky_key or self.settings.sticky_key,
            status="running",
            created_at=self.clock(),
            created_by=created_by,
            seed=seed,
        )
        self.store.create(experiment)
        self.metrics.ab_tests.labels(event="created").inc()
        return experiment

    def get(self, test_id: str, *, can_see: Callable[[str], bool]) -> Experiment:
        """One test; 404 when it does not exist or belongs to a tenant the caller cannot see."""
        experiment = self.store.get(test_id)
        if experiment is None or not can_see(experiment.tenant):
            raise Problem(404, f"no A/B test {test_id!r}", type="not-found")
        return experiment

    def report(self, experiment: Experiment) -> dict[str, Any]:
        """The full results document (flush the counters first to include this process's)."""
        return experiment_report(
            experiment,
            self.store.totals(experiment.id),
            client_bound=self.settings.blast_radius_exact_clients,
            threshold=self.settings.decision_threshold,
        )

    def decide(self, experiment: Experiment, *, winner: str | None, reason: str) -> Experiment:
        """Declare the winner; refused while the SRM check fails or samples are missing."""
        _running(experiment)
        totals = self.store.totals(experiment.id)
        result = compare(
            totals.control.counts(),
            totals.candidate.counts(),
            experiment.metric,
            prior=experiment.prior,
            candidate_share=experiment.split / 100.0,
        )
        ready = readiness(experiment, totals, result, self.settings.decision_threshold)
        if not ready.ready:
            raise Problem(
                409,
                "; ".join(ready.blocked_by),
                type="srm-mismatch" if ready.srm_blocked else "not-enough-samples",
                blocked_by=list(ready.blocked_by),
            )
        chosen = winner or ready.recommendation
        if chosen is None:
            raise Problem(
                409,
                f"the {experiment.metric.value} comparison is inconclusive (chance to win "
                f"{result.absolute.chance_to_win:.3f}); collect more traffic or name the winner",
                type="inconclusive",
            )
        note = reason or (
            f"chance to win {result.absolute.chance_to_win:.4f}"
            if winner is None
            else "chosen by an operator"
        )
        return self._finish(experiment, status="decided", winner=chosen, reason=note)

    def stop(self, experiment: Experiment, *, reason: str) -> Experiment:
        """End a running test without a winner."""
        _running(experiment)
        return self._finish(experiment, status="stopped", winner=None, reason=reason or "stopped")

    def _finish(
        self, experiment: Experiment, *, status: str, winner: str | None, reason: str
    ) -> Experiment:
        if not self.store.finish(
            experiment.id, status=status, winner=winner, reason=reason, now=self.clock()
        ):
            raise Problem(
                409, f"test {experiment.id!r} is no longer running", type="test-not-running"
            )
        self.metrics.ab_tests.labels(event=status).inc()
        finished = self.store.get(experiment.id)
        assert finished is not None
        return finished


def _running(experiment: Experiment) -> None:
    if experiment.status != "running":
        raise Problem(
            409,
            f"test {experiment.id!r} is {experiment.status}, not running",
            type="test-not-running",
        )
