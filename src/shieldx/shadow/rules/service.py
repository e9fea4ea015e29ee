"""Rule sets, the application layer: create a version, read them, try one on a record."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio.to_thread
import orjson

from shieldx.platform.errors import Problem
from shieldx.shadow.rules.catalog import OverBudget, RuleSetCatalog, UnknownRuleSet
from shieldx.shadow.rules.domain import (
    ErrorPolicy,
    InvalidRuleSet,
    Rule,
    RuleSet,
    parse_ruleset_ref,
)
from shieldx.shadow.rules.evaluation_pool import EvaluationPool, EvaluationUnavailable
from shieldx.shadow.rules.records import RequestRecord
from shieldx.shadow.rules.store import StoredRuleSet, encode_rules
from shieldx.shadow.timeutil import Clock, iso


def ruleset_doc(stored: StoredRuleSet, evaluation_order: Sequence[str]) -> dict[str, Any]:
    """A stored rule set version as the API shows it."""
    return {
        "tenant": stored.tenant,
        "name": stored.name,
        "version": stored.version,
        "on_error": stored.on_error.value,
        "rule_count": len(stored.rules),
        "created_at": iso(stored.created_at),
        "created_by": stored.created_by,
        "rules": orjson.loads(encode_rules(stored.rules)),
        "evaluation_order": list(evaluation_order),
    }


class RuleSetService:
    """Rule set operations for the API (blocking work in worker threads)."""

    def __init__(
        self, *, catalog: RuleSetCatalog, clock: Clock, pool: EvaluationPool, inline_cost: int
    ) -> None:
        self.catalog = catalog
        self.clock = clock
        self.pool = pool
        self.inline_cost = inline_cost

    async def create(
        self, *, tenant: str, name: str, rules: list[Rule], on_error: ErrorPolicy, created_by: str
    ) -> dict[str, Any]:
        """Compile and store a new version; 422 naming every rule at fault."""

        def create() -> dict[str, Any]:
            ruleset = self.catalog.create(
                tenant=tenant,
                name=name,
                rules=rules,
                on_error=on_error,
                created_by=created_by,
                now=self.clock(),
            )
            return {"tenant": tenant, "name": ruleset.name, "version": ruleset.version}

        try:
            return await anyio.to_thread.run_sync(create)
        except InvalidRuleSet as exc:
            problems = [
                {"rule_id": p.rule_id, "message": p.message, "line": p.line, "column": p.column}
                for p in exc.problems
            ]
            raise Problem(422, str(exc), type="invalid-ruleset", problems=problems) from None
        except OverBudget as exc:
            raise Problem(
                422, str(exc), type="ruleset-over-budget", cost=exc.cost, budget=exc.budget
            ) from None
        except ValueError as exc:
            raise Problem(422, str(exc), type="invalid-ruleset") from None

    async def get(self, tenant: str, ref: str) -> dict[str, Any]:
        """GET /shadow/rulesets/{name} or {name}@{version}."""

        def read() -> dict[str, Any]:
            name, version = _parse_ref(ref)
            stored = self._stored(tenant, name, version)
            doc = ruleset_doc(stored, self.catalog.compiled(stored).evaluation_order)
            doc["versions"] = [
                {"version": v, "rule_count": n, "created_at": iso(at)}
                for v, n, at in self.catalog.store.versions(tenant, name)
            ]
            return doc

        return await anyio.to_thread.run_sync(read)

    def _stored(self, tenant: str, name: str, version: int | None) -> StoredRuleSet:
        try:
            return self.catalog.stored(tenant, name, version)
        except UnknownRuleSet as exc:
            raise Problem(404, str(exc), type="not-found") from None

    async def for_tenant(self, tenant: str) -> list[dict[str, Any]]:
        """Every rule set name of a tenant with its latest version."""
        summaries = await anyio.to_thread.run_sync(self.catalog.store.summaries, tenant)
        return [
            {
                "name": s.name,
                "latest_version": s.latest_version,
                "versions": s.versions,
                "updated_at": iso(s.updated_at),
            }
            for s in summaries
        ]

    async def check(self, tenant: str, ref: str, record: RequestRecord) -> dict[str, Any]:
        """Evaluate one record by hand: the decision and every matching rule."""

        def load() -> RuleSet:
            name, version = _parse_ref(ref)
            return self.catalog.compiled(self._stored(tenant, name, version))

        ruleset = await anyio.to_thread.run_sync(load)
        if ruleset.cost <= self.inline_cost:
            decision = ruleset.evaluate_all(record)
        else:
            try:
                decision = await self.pool.evaluate_all(ruleset, record)
            except EvaluationUnavailable as exc:
                raise Problem(
                    503, str(exc), type="evaluation-unavailable", headers={"Retry-After": "1"}
                ) from None
        return {
            "ruleset": ruleset.name,
            "version": ruleset.version,
            "action": decision.action.value,
            "rule_id": decision.rule_id,
            "matched_rules": list(decision.matched),
            "errors": [{"rule_id": f.rule_id, "message": f.message} for f in decision.errors],
            "by_error": decision.by_error,
            "record": dict(record),
        }


def _parse_ref(ref: str) -> tuple[str, int | None]:
    try:
        return parse_ruleset_ref(ref)
    except ValueError as exc:
        raise Problem(404, str(exc), type="not-found") from None
