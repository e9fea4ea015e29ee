"""Rules, rule sets and decisions: the pure core of the shadow service.

Decision semantics (RuleSet.decide):

1. Rules are evaluated in descending `priority`; equal priorities keep their declared order.
2. A matching `log` rule is recorded in `matched` and evaluation goes on: logs never decide.
3. The first matching `block`, `allow` or `challenge` rule decides; later rules are skipped.
4. No deciding match: the rule set's default action (allow).
5. A rule that fails at run time (missing key, overflow, bad IP, non-bool result...) is
   recorded in `errors` and then handled by the rule set's policy:
   - fail_open (default): the failing rule is treated as not matching;
   - fail_closed: a failing `block` or `challenge` rule is treated as matching (it might have
     matched, so its restriction applies); a failing `allow` or `log` rule is treated as not
     matching (an error never grants an allow).
   No exception ever escapes a decision.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from shieldx.shadow.cel import (
    CelCompileError,
    CelEnvironment,
    CelEvalError,
    CompiledExpression,
    compile_expression,
    declared_only,
    parse_expression,
    plan_sharing,
)
from shieldx.shadow.cel.ast import Expr
from shieldx.shadow.cel.types import Evaluator
from shieldx.shadow.rules.records import request_variables

_RULE_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
_RULESET_NAME: Final = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
# Versions are stored as 32-bit integers on both backends.
MAX_VERSION: Final = 2**31 - 1
REQUEST_ENV: Final = CelEnvironment(request_variables())


class Action(StrEnum):
    """What a rule does to a request it matches."""

    BLOCK = "block"
    ALLOW = "allow"
    LOG = "log"
    CHALLENGE = "challenge"

    @property
    def blocking(self) -> bool:
        """True for the actions that stop a request (block and challenge)."""
        return self is Action.BLOCK or self is Action.CHALLENGE


class ErrorPolicy(StrEnum):
    """How a rule that fails at run time is treated."""

    FAIL_OPEN = "fail_open"
    FAIL_CLOSED = "fail_closed"


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule as written: a CEL expression over the request record and an action."""

    id: str
    expression: str
    action: Action
    priority: int = 0
    description: str = ""


@dataclass(frozen=True, slots=True)
class RuleProblem:
    """Why one rule does not compile, with the position in its expression."""

    rule_id: str
    message: str
    line: int = 1
    column: int = 1

    def __str__(self) -> str:
        return f"rule {self.rule_id!r} at {self.line}:{self.column}: {self.message}"


class InvalidRuleSet(ValueError):
    """A rule set that does not compile; `problems` lists every rule at fault."""

    def __init__(self, problems: Sequence[RuleProblem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = tuple(problems)


@dataclass(frozen=True, slots=True)
class RuleFailure:
    """A run-time failure of one rule on one record."""

    rule_id: str
    message: str


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict of a rule set on one record."""

    action: Action
    rule_id: str | None
    matched: tuple[str, ...] = ()
    errors: tuple[RuleFailure, ...] = ()
    #: True when the deciding rule failed and fail_closed applied its action.
    by_error: bool = False

    @property
    def blocked(self) -> bool:
        """True when the request is stopped (block or challenge)."""
        return self.action.blocking


@dataclass(frozen=True, slots=True)
class _Step:
    rule_id: str
    action: Action
    fn: Evaluator
    closes_on_error: bool


@dataclass(frozen=True, slots=True)
class RuleSet:
    """A named, versioned, immutable rule set, compiled once; build it with RuleSet.compile."""

    name: str
    version: int
    rules: tuple[Rule, ...]
    on_error: ErrorPolicy
    compiled: Mapping[str, CompiledExpression] = field(repr=False, compare=False)
    default_action: Action = Action.ALLOW
    #: The static bound of one evaluation: the sum of the rules' cost bounds (see shieldx.shadow.cel).
    cost: int = field(default=0, compare=False)
    _plan: tuple[_Step, ...] = field(default=(), repr=False, compare=False)
    _names: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @classmethod
    def compile(
        cls,
        name: str,
        version: int,
        rules: Sequence[Rule],
        on_error: ErrorPolicy | str = ErrorPolicy.FAIL_OPEN,
        *,
        env: CelEnvironment = REQUEST_ENV,
    ) -> RuleSet:
        """Validate and compile every rule; raise InvalidRuleSet listing all problems."""
        if not _RULESET_NAME.fullmatch(name):
            raise ValueError(f"rule set name {name!r} must match {_RULESET_NAME.pattern}")
        if version < 1:
            raise ValueError(f"rule set version must be at least 1 (got {version})")
        policy = ErrorPolicy(on_error)
        problems: list[RuleProblem] = []
        trees = _parse_all(rules, env, problems)
        sharing = plan_sharing(trees.values(), env.limits)
        compiled: dict[str, CompiledExpression] = {}
        for rule in rules:
            tree = trees.get(rule.id)
            if tree is None:
                continue
            try:
                compiled[rule.id] = compile_expression(
                    tree, env, want_bool=True, sharing=sharing, text=rule.expression
                )
            except CelCompileError as exc:
                problems.append(RuleProblem(rule.id, exc.message, exc.line, exc.column))
        if problems:
            raise InvalidRuleSet(problems)
        ordered = sorted(rules, key=lambda r: -r.priority)
        plan = tuple(
            _Step(
                r.id,
                Action(r.action),
                compiled[r.id].fn,
                policy is ErrorPolicy.FAIL_CLOSED and Action(r.action).blocking,
            )
            for r in ordered
        )
        return cls(
            name,
            version,
            tuple(rules),
            policy,
            compiled,
            cost=sum(c.cost for c in compiled.values()),
            _plan=plan,
            _names=tuple(env.variables),
        )

    def costliest(self, count: int = 3) -> list[tuple[str, int]]:
        """The COUNT rules with the highest cost bounds, as (rule id, cost), highest first."""
        ranked = sorted(self.compiled.items(), key=lambda item: -item[1].cost)
        return [(rule_id, c.cost) for rule_id, c in ranked[:count]]

    @property
    def ref(self) -> str:
        """The "name@version" reference of this rule set."""
        return f"{self.name}@{self.version}"

    @property
    def evaluation_order(self) -> tuple[str, ...]:
        """Rule ids in the order they are evaluated."""
        return tuple(step.rule_id for step in self._plan)

    def decide(self, record: Mapping[str, object]) -> Decision:
        """Evaluate rules by priority until one decides (see the module docstring)."""
        return self._run(record, exhaustive=False)

    def evaluate_all(self, record: Mapping[str, object]) -> Decision:
        """Like decide, but evaluate every rule so `matched` lists all matching rules."""
        return self._run(record, exhaustive=True)

    def _run(self, record: Mapping[str, object], *, exhaustive: bool) -> Decision:
        activation = declared_only(record, self._names)
        matched: list[str] = []
        errors: list[RuleFailure] = []
        verdict: tuple[Action, str, bool] | None = None
        for step in self._plan:
            try:
                hit = step.fn(activation)
            except Exception as exc:  # a rule's failure, whatever it is, must never escape
                errors.append(RuleFailure(step.rule_id, _describe(exc)))
                if not step.closes_on_error:
                    continue
                hit, failed = True, True
            else:
                failed = False
            if not hit:
                continue
            matched.append(step.rule_id)
            if step.action is Action.LOG or verdict is not None:
                continue
            verdict = (step.action, step.rule_id, failed)
            if not exhaustive:
                break
        if verdict is None:
            return Decision(self.default_action, None, tuple(matched), tuple(errors))
        action, rule_id, by_error = verdict
        return Decision(action, rule_id, tuple(matched), tuple(errors), by_error)


def _parse_all(
    rules: Sequence[Rule], env: CelEnvironment, problems: list[RuleProblem]
) -> dict[str, Expr]:
    trees: dict[str, Expr] = {}
    seen: set[str] = set()
    for rule in rules:
        problem = _check_rule(rule, seen)
        seen.add(rule.id)
        if problem:
            problems.append(RuleProblem(rule.id, problem))
            continue
        try:
            trees[rule.id] = parse_expression(rule.expression, env)
        except CelCompileError as exc:
            problems.append(RuleProblem(rule.id, exc.message, exc.line, exc.column))
    return trees


def _check_rule(rule: Rule, seen: set[str]) -> str | None:
    if not isinstance(rule.id, str) or not _RULE_ID.fullmatch(rule.id):
        return f"rule id must match {_RULE_ID.pattern}"
    if rule.id in seen:
        return "duplicate rule id"
    if rule.action not in tuple(Action):
        return f"action must be one of {', '.join(Action)} (got {rule.action!r})"
    if (
        isinstance(rule.priority, bool)
        or not isinstance(rule.priority, int)
        or abs(rule.priority) > 10**9
    ):
        return "priority must be an integer between -1000000000 and 1000000000"
    if not isinstance(rule.expression, str) or not rule.expression.strip():
        return "expression must be a non-empty string"
    return None


def _describe(exc: Exception) -> str:
    if isinstance(exc, CelEvalError):
        return str(exc)
    return f"internal error: {type(exc).__name__}: {exc}"


def parse_ruleset_ref(text: str) -> tuple[str, int | None]:
    """Split "name@version" (or a bare "name", meaning the latest) into its parts."""
    name, at, version = text.partition("@")
    if not _RULESET_NAME.fullmatch(name):
        raise ValueError(f"rule set name {name!r} must match {_RULESET_NAME.pattern}")
    if not at:
        return name, None
    # isascii: str.isdigit() also admits digits int() refuses ("²") or reads oddly ("٣").
    digits = version.isascii() and version.isdigit() and len(version) <= len(str(MAX_VERSION))
    if not digits or not 1 <= int(version) <= MAX_VERSION:
        raise ValueError(f"version in {text!r} must be an integer from 1 to {MAX_VERSION}")
    return name, int(version)
