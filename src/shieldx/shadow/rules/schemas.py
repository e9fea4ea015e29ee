"""Request bodies of the rule set routes (responses are plain documents built by the service)."""

from __future__ import annotations

from pydantic import Field

from shieldx.shadow.body import Body
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
