"""Compiled rule sets, cached in memory by (tenant, name, version).

Versions are immutable, so a cached compilation never goes stale: the cache is only
bounded (least recently used out). A rule set is compiled once, when it is created, and
again only after it was evicted or when another process created it.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime

from shieldx.shadow.rules.domain import ErrorPolicy, Rule, RuleSet
from shieldx.shadow.rules.store import RuleSetStore, StoredRuleSet

CacheKey = tuple[str, str, int]


class UnknownRuleSet(LookupError):
    """No such rule set (or version) for the tenant."""

    def __init__(self, tenant: str, name: str, version: int | None) -> None:
        which = f"{name}@{version}" if version is not None else name
        super().__init__(f"tenant {tenant!r} has no rule set {which!r}")


class OverBudget(ValueError):
    """A rule set whose total cost bound exceeds shadow.max_ruleset_cost."""

    def __init__(self, ruleset: RuleSet, budget: int) -> None:
        worst = ", ".join(f"{rule_id} ({cost})" for rule_id, cost in ruleset.costliest())
        super().__init__(
            f"the rule set's estimated cost per request is {ruleset.cost}, over the budget of "
            f"{budget} (setting shadow.max_ruleset_cost); the costliest rules: {worst}. "
            "Drop or narrow rules (loops over headers cost up to their count per iteration)"
        )
        self.cost, self.budget = ruleset.cost, budget


class RuleSetCatalog:
    """Creates rule sets and hands out their compiled form; blocking, thread-safe."""

    def __init__(
        self, store: RuleSetStore, *, capacity: int = 256, max_cost: int | None = None
    ) -> None:
        self.store = store
        self.capacity = capacity
        self.max_cost = max_cost
        self._cache: OrderedDict[CacheKey, RuleSet] = OrderedDict()
        self._lock = threading.Lock()
        self.compilations = 0

    def create(
        self,
        *,
        tenant: str,
        name: str,
        rules: Sequence[Rule],
        on_error: ErrorPolicy,
        created_by: str,
        now: datetime,
    ) -> RuleSet:
        """Compile RULES (InvalidRuleSet names every rule at fault), then store a new version.

        OverBudget when the rule set's total cost bound exceeds max_cost: nothing is stored.
        """
        compiled = RuleSet.compile(name, 1, rules, on_error)
        self.compilations += 1
        if self.max_cost is not None and compiled.cost > self.max_cost:
            raise OverBudget(compiled, self.max_cost)
        version = self.store.insert_next(
            tenant=tenant,
            name=name,
            on_error=compiled.on_error,
            rules=compiled.rules,
            created_by=created_by,
            now=now,
        )
        ruleset = dataclasses.replace(compiled, version=version)
        self._remember((tenant, name, version), ruleset)
        return ruleset

    def get(self, tenant: str, name: str, version: int | None = None) -> RuleSet:
        """The compiled rule set (the latest version when VERSION is None)."""
        if version is not None:
            cached = self._cached((tenant, name, version))
            if cached is not None:
                return cached
        stored = self.stored(tenant, name, version)
        return self.compiled(stored)

    def stored(self, tenant: str, name: str, version: int | None = None) -> StoredRuleSet:
        """The rule set as written; raise UnknownRuleSet."""
        stored = self.store.get(tenant, name, version)
        if stored is None:
            raise UnknownRuleSet(tenant, name, version)
        return stored

    def compiled(self, stored: StoredRuleSet) -> RuleSet:
        """The compiled form of a stored rule set (from the cache when possible)."""
        key = (stored.tenant, stored.name, stored.version)
        cached = self._cached(key)
        if cached is not None:
            return cached
        ruleset = RuleSet.compile(stored.name, stored.version, stored.rules, stored.on_error)
        self.compilations += 1
        self._remember(key, ruleset)
        return ruleset

    def _cached(self, key: CacheKey) -> RuleSet | None:
        with self._lock:
            ruleset = self._cache.get(key)
            if ruleset is not None:
                self._cache.move_to_end(key)
            return ruleset

    def _remember(self, key: CacheKey, ruleset: RuleSet) -> None:
        with self._lock:
            self._cache[key] = ruleset
            self._cache.move_to_end(key)
            while len(self._cache) > self.capacity:
                self._cache.popitem(last=False)

    def __len__(self) -> int:
        return len(self._cache)
