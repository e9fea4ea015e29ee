"""Feature-flag evaluation (OpenFeature-shaped) and sticky bucketing for rollouts and A/B tests.

Resolution order for Flag.evaluate(context):

1. disabled (the kill switch)   -> the default variant, reason DISABLED;
2. a context that is not JSON-like or too large -> default, ERROR / INVALID_CONTEXT;
3. targeting rules in order; the first whose CEL expression is true -> its variant,
   TARGETING_MATCH; a rule failing at run time -> default, ERROR / GENERAL (write
   `has(context.plan) && context.plan == "pro"` for optional attributes);
4. the rollout: the stickiness attribute (targetingKey by default) hashed as
   murmur3_32("flag_key:value") % 100; a bucket below the percentage -> the rollout variant,
   SPLIT; otherwise the default, DEFAULT; a missing attribute -> ERROR / TARGETING_KEY_MISSING;
5. no targeting and no rollout -> the default variant, STATIC; otherwise DEFAULT.

A bucket depends only on the flag key and the attribute, so raising the percentage only adds
buckets: nobody already in the rollout is dropped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

import mmh3

from shieldx.shadow.cel import (
    CelCompileError,
    CelEnvironment,
    CelEvalError,
    CompiledExpression,
    compile_expression,
)
from shieldx.shadow.cel.types import (
    DYN,
    INT64_MAX,
    INT64_MIN,
    STRING,
    CelLimits,
    Variable,
    map_of,
)
from shieldx.shadow.flags.contexts import ContextError, normalize_context

_FLAG_KEY: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
_LIMITS: Final = CelLimits()
MAX_VARIANT_DEPTH: Final = 32
FLAG_ENV: Final = CelEnvironment(
    {
        "context": Variable(
            map_of(STRING, DYN), _LIMITS.dyn_collection_size, _LIMITS.dyn_string_size
        ),
        "targetingKey": Variable(STRING, _LIMITS.dyn_string_size),
    },
    _LIMITS,
)


class Reason(StrEnum):
    """Why a flag resolved to its value (OpenFeature resolution reasons)."""

    STATIC = "STATIC"
    TARGETING_MATCH = "TARGETING_MATCH"
    SPLIT = "SPLIT"
    DEFAULT = "DEFAULT"
    DISABLED = "DISABLED"
    ERROR = "ERROR"


class ErrorCode(StrEnum):
    """OpenFeature error codes used by this resolver."""

    TARGETING_KEY_MISSING = "TARGETING_KEY_MISSING"
    INVALID_CONTEXT = "INVALID_CONTEXT"
    GENERAL = "GENERAL"


@dataclass(frozen=True, slots=True)
class TargetingRule:
    """Serve `variant` when the CEL `expression` over the context is true."""

    expression: str
    variant: str


@dataclass(frozen=True, slots=True)
class Rollout:
    """Serve `variant` to `percentage` % of contexts, sticky on the `stickiness` attribute."""

    variant: str
    percentage: int
    stickiness: str = "targetingKey"


@dataclass(frozen=True, slots=True)
class Resolution:
    """An OpenFeature-shaped evaluation result."""

    value: object
    variant: str | None
    reason: Reason
    error_code: ErrorCode | None = None
    error_message: str | None = None


class InvalidFlag(ValueError):
    """A flag definition that is inconsistent or whose targeting does not compile."""


def check_variant_value(value: object, where: str, depth: int = 0) -> None:
    """Raise InvalidFlag unless VALUE is JSON the store can keep: finite, int64, not too deep."""
    if depth > MAX_VARIANT_DEPTH:
        raise InvalidFlag(f"{where} nests deeper than {MAX_VARIANT_DEPTH} levels")
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise InvalidFlag(f"{where} is outside the 64-bit integer range")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidFlag(f"{where} is not a finite number")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            check_variant_value(item, f"{where}[{i}]", depth + 1)
    elif isinstance(value, Mapping):
        for name, item in value.items():
            check_variant_value(item, f"{where}.{name}", depth + 1)
    else:
        raise InvalidFlag(f"{where} has unsupported type {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class Flag:
    """A compiled, immutable feature flag; build it with Flag.compile."""

    key: str
    variants: Mapping[str, object]
    default_variant: str
    enabled: bool = True
    targeting: tuple[TargetingRule, ...] = ()
    rollout: Rollout | None = None
    _compiled: tuple[CompiledExpression, ...] = field(default=(), repr=False, compare=False)

    @classmethod
    def compile(
        cls,
        key: str,
        variants: Mapping[str, object],
        default_variant: str,
        *,
        enabled: bool = True,
        targeting: Sequence[TargetingRule] = (),
        rollout: Rollout | None = None,
    ) -> Flag:
        """Validate the definition and compile its targeting rules once."""
        if not _FLAG_KEY.fullmatch(key):
            raise InvalidFlag(f"flag key {key!r} must match {_FLAG_KEY.pattern}")
        for name, value in variants.items():
            check_variant_value(value, f"variants.{name}")
        named = [("default_variant", default_variant)] + [
            (f"targeting[{i}].variant", r.variant) for i, r in enumerate(targeting)
        ]
        if rollout is not None:
            named.append(("rollout.variant", rollout.variant))
            if (
                isinstance(rollout.percentage, bool)
                or not isinstance(rollout.percentage, int)
                or not 0 <= rollout.percentage <= 100
            ):
                raise InvalidFlag(
                    f"rollout.percentage must be an integer from 0 to 100 (got {rollout.percentage!r})"
                )
        for where, variant in named:
            if variant not in variants:
                raise InvalidFlag(
                    f"{where} names unknown variant {variant!r} (variants: {', '.join(variants)})"
                )
        compiled = []
        for i, rule in enumerate(targeting):
            try:
                compiled.append(compile_expression(rule.expression, FLAG_ENV, want_bool=True))
            except CelCompileError as exc:
                raise InvalidFlag(
                    f"targeting[{i}] at {exc.line}:{exc.column}: {exc.message}"
                ) from None
        return cls(
            key,
            dict(variants),
            default_variant,
            enabled,
            tuple(targeting),
            rollout,
            tuple(compiled),
        )

    @property
    def cost(self) -> int:
        """The static cost bound of one evaluation: the sum of the targeting rules' bounds."""
        return sum(c.cost for c in self._compiled)

    def evaluate(self, context: Mapping[str, object]) -> Resolution:
        """Resolve the flag for an evaluation context (see the module docstring)."""
        default = self.default_variant
        if not self.enabled:
            return self._serve(default, Reason.DISABLED)
        try:
            attributes = normalize_context(context)
        except ContextError as exc:
            return self._fail(ErrorCode.INVALID_CONTEXT, str(exc))
        target = attributes.get("targetingKey")
        activation = {
            "context": attributes,
            "targetingKey": target if isinstance(target, str) else "",
        }
        for i, (rule, compiled) in enumerate(zip(self.targeting, self._compiled, strict=True)):
            try:
                if compiled.evaluate(activation):
                    return self._serve(rule.variant, Reason.TARGETING_MATCH)
            except CelEvalError as exc:
                return self._fail(ErrorCode.GENERAL, f"targeting[{i}]: {exc}")
        if self.rollout is None:
            return self._serve(default, Reason.DEFAULT if self.targeting else Reason.STATIC)
        unit = stickiness_value(attributes.get(self.rollout.stickiness))
        if unit is None:
            return self._fail(
                ErrorCode.TARGETING_KEY_MISSING,
                f"context has no usable {self.rollout.stickiness!r}",
            )
        if bucket(self.key, unit) < self.rollout.percentage:
            return self._serve(self.rollout.variant, Reason.SPLIT)
        return self._serve(default, Reason.DEFAULT)

    def _serve(self, variant: str, reason: Reason) -> Resolution:
        return Resolution(self.variants[variant], variant, reason)

    def _fail(self, code: ErrorCode, message: str) -> Resolution:
        return Resolution(
            self.variants[self.default_variant], self.default_variant, Reason.ERROR, code, message
        )


def bucket(key: str, unit: str, buckets: int = 100) -> int:
    """The sticky bucket of a unit: murmur3 32-bit (seed 0, unsigned) of "key:unit" mod buckets."""
    return mmh3.hash(f"{key}:{unit}", 0, signed=False) % buckets


def stickiness_value(value: object) -> str | None:
    """The canonical text of a stickiness attribute, or None when it is missing or not scalar."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value or None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, float) else None


class Variant(StrEnum):
    """The two arms of an A/B test."""

    CONTROL = "control"
    CANDIDATE = "candidate"


def assign_variant(test_id: str, unit: str, candidate_percent: float = 50.0) -> Variant:
    """Sticky A/B assignment: murmur3("test_id:unit") % 10000 below percent*100 -> candidate.

    Ten thousand buckets allow splits such as 12.5 %; like flag rollouts, raising the
    percentage only moves units from control to candidate, never back.
    """
    if not 0.0 <= candidate_percent <= 100.0:
        raise ValueError(f"candidate_percent must be between 0 and 100 (got {candidate_percent})")
    in_candidate = bucket(test_id, unit, 10_000) < round(candidate_percent * 100)
    return Variant.CANDIDATE if in_candidate else Variant.CONTROL


def sticky_unit(record: Mapping[str, object], key: str = "ip") -> str:
    """The value a request is bucketed on: a record field, or "header:<name>" (empty if absent)."""
    if key.startswith("header:"):
        headers = record.get("headers")
        value = headers.get(key[7:].lower(), "") if isinstance(headers, Mapping) else ""
    else:
        value = record.get(key, "")
    return stickiness_value(value) or ""
