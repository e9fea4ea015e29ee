"""Request bodies and response documents of the feature flag routes."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from shieldx.shadow.body import Answer, Body


class TargetingIn(Body):
    """A flag targeting rule."""

    multiline_fields = frozenset({"expression"})

    expression: str = Field(max_length=8192)
    variant: str = Field(max_length=128)


class RolloutIn(Body):
    """A flag's gradual rollout."""

    variant: str = Field(max_length=128)
    percentage: int = Field(ge=0, le=100)
    stickiness: str = Field("targetingKey", max_length=128)


class FlagBody(Body):
    """PUT /shadow/flags/{key}: the whole definition."""

    variants: dict[str, Any] = Field(min_length=1, max_length=100)
    default_variant: str = Field(max_length=128)
    enabled: bool = True
    targeting: list[TargetingIn] = Field(default_factory=list, max_length=100)
    rollout: RolloutIn | None = None

    def definition(self) -> dict[str, Any]:
        """The stored definition (everything but the key and the switch)."""
        return self.model_dump(exclude={"enabled"})


class FlagCreate(FlagBody):
    """POST /shadow/flags."""

    key: str = Field(max_length=128)


class FlagPatch(Body):
    """PATCH /shadow/flags/{key}: only the keys given change ({"enabled": false} kills it)."""

    variants: dict[str, Any] | None = Field(None, min_length=1, max_length=100)
    default_variant: str | None = Field(None, max_length=128)
    enabled: bool | None = None
    targeting: list[TargetingIn] | None = Field(None, max_length=100)
    rollout: RolloutIn | None = None


class EvaluateIn(Body):
    """POST /shadow/flags/{key}/evaluate."""

    context: dict[str, Any] = Field(default_factory=dict)


# Responses ------------------------------------------------------------------------------------


class TargetingOut(Answer):
    """A targeting rule: a CEL expression over the context and the variant it selects."""

    expression: str
    variant: str


class RolloutOut(Answer):
    """A gradual rollout of one variant."""

    variant: str
    percentage: int
    stickiness: str


class FlagOut(Answer):
    """A flag's definition, switch and revision."""

    key: str
    tenant: str
    enabled: bool
    variants: dict[str, Any] = Field(
        description="variant -> value (boolean, string, number, object)"
    )
    default_variant: str
    targeting: list[TargetingOut]
    rollout: RolloutOut | None
    revision: int
    created_at: str
    updated_at: str


class EvaluationOut(Answer):
    """An OpenFeature-shaped resolution (error_code and error_message only when it failed)."""

    key: str
    value: Any
    variant: str | None
    reason: str
    error_code: str | None = None
    error_message: str | None = None
