"""Request bodies of the feature flag routes (responses are plain documents built by the service)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from shieldx.shadow.body import Body


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
