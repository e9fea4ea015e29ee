"""Request bodies and response documents of the rule set routes."""

from __future__ import annotations

from pydantic import Field

from shieldx.shadow.body import Answer, Body
from shieldx.shadow.rules.domain import ErrorPolicy


class RuleIn(Body):
    """One rule; the domain checks the id, action and expression and names the rule at fault."""

    multiline_fields = frozenset({"expression", "description"})

    id: str = Field(max_length=128)
    expression: str = Field(max_length=65_536)
    action: str = Field(max_length=32)
    priority: int = 0
    description: str = Field("", max_length=2000)


class RuleSetCreate(Body):
    """POST /shadow/rulesets."""

    name: str = Field(max_length=64)
    rules: list[RuleIn] = Field(min_length=1, max_length=1000)
    on_error: ErrorPolicy = ErrorPolicy.FAIL_OPEN


# Responses ------------------------------------------------------------------------------------


class RuleSetCreated(Answer):
    """POST /shadow/rulesets: the new version."""

    tenant: str
    name: str
    version: int


class RuleSetSummary(Answer):
    """A rule set in GET /shadow/rulesets."""

    name: str
    latest_version: int
    versions: int
    updated_at: str = Field(description="RFC 3339 time")


class RuleOut(Answer):
    """One stored rule."""

    id: str
    description: str
    expression: str
    action: str
    priority: int


class RuleSetVersionOut(Answer):
    """One version of a rule set."""

    version: int
    rule_count: int
    created_at: str


class RuleSetDetail(Answer):
    """GET /shadow/rulesets/{ref}: a version's rules, evaluation order and every version."""

    tenant: str
    name: str
    version: int
    on_error: ErrorPolicy
    rule_count: int
    created_at: str
    created_by: str
    rules: list[RuleOut]
    evaluation_order: list[str]
    versions: list[RuleSetVersionOut]


class RecordOut(Answer):
    """A normalised request record, as the rules see it (header names lower-case)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    ip: str
    country: str
    asn: int
    user_agent: str
    body_size: int
    tenant: str


class RuleErrorOut(Answer):
    """A rule whose evaluation failed on the record."""

    rule_id: str
    message: str


class CheckOut(Answer):
    """POST /shadow/rulesets/{ref}/check: the decision and every matching rule."""

    ruleset: str
    version: int
    action: str
    rule_id: str | None
    matched_rules: list[str]
    errors: list[RuleErrorOut]
    by_error: bool
    record: RecordOut


class ShadowDecisionOut(Answer):
    """A decision taken beside the enforced one (a test's candidate, a deployment's other side)."""

    source: str = Field(description="test | deployment")
    id: str | None
    ruleset: str | None
    version: int | None
    action: str
    rule_id: str | None
    matched_rules: list[str]


class DecisionOut(Answer):
    """POST /shadow/decide: the enforced action, with the shadow decisions beside it."""

    action: str = Field(description="allow | block | log | challenge")
    ruleset: str | None
    version: int | None
    rule_id: str | None
    matched_rules: list[str]
    deployment: str | None
    shadow: list[ShadowDecisionOut]


class TrafficAccepted(Answer):
    """POST /shadow/traffic: what the mirror feed counted."""

    accepted: int
    labelled: int
    tests: list[str] = Field(description="The running A/B tests that counted the batch")
