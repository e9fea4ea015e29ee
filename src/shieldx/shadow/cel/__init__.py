"""Safe CEL: parse with cel-python's grammar, compile our own AST to closures, never eval.

The supported subset: null, bool, int (int64, overflow is an error), double and string
literals; lists and maps; field selection and indexing; `! - * / % + < <= > >= == != in
&& || ?:` with CEL's heterogeneous equality (int and double compare numerically, other
mixed kinds are unequal) and commutative-error rules; `has()`; the macros exists,
all, exists_one, filter and map; size, contains, startsWith, endsWith, matches (RE2),
lowerAscii, upperAscii, urlDecode, int, double, string, dyn, inCidr / cidr. Unsigned ints,
bytes, timestamps, durations, protobuf messages and unknown names are compile errors with a
position. Every function may be called globally or as a method (`size(s)` == `s.size()`).

Cost limit design: cost is bounded statically, not counted at run time. Every declared
variable carries a size bound (string length, collection size) that the code building
activations enforces; from those bounds the compiler derives, for each node, the size of its
value and the cost of evaluating it (loops multiply the cost of their body by the size of
their range, string scans and RE2 matches cost in proportion to the text). An expression
whose bound exceeds CelLimits.max_cost does not compile. The hot path therefore carries no
step counter at all, and no evaluation can run away: RE2 has no backtracking, loops only
range over bounded collections, and strings can only grow by bounded concatenation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from shieldx.shadow.cel.ast import Call, Comprehension, Expr, walk
from shieldx.shadow.cel.compiler import ExpressionCompiler, Sharing
from shieldx.shadow.cel.parser import parse
from shieldx.shadow.cel.regex import regex_groups
from shieldx.shadow.cel.types import (
    BOOL,
    Activation,
    CelCompileError,
    CelEvalError,
    CelLimits,
    CelType,
    Evaluator,
    Kind,
    Variable,
)

__all__ = [
    "CelCompileError",
    "CelEnvironment",
    "CelEvalError",
    "CelLimits",
    "CompiledExpression",
    "Sharing",
    "Variable",
    "compile_expression",
    "declared_only",
    "parse_expression",
    "plan_sharing",
]


@dataclass(frozen=True, slots=True)
class CelEnvironment:
    """The declared variables an expression may read, and the compile-time limits."""

    variables: Mapping[str, Variable]
    limits: CelLimits = field(default_factory=CelLimits)


@dataclass(frozen=True, slots=True)
class CompiledExpression:
    """A compiled expression: call `evaluate` any number of times; it holds no state."""

    source: str
    type: CelType
    cost: int
    fn: Evaluator = field(repr=False, compare=False)
    names: tuple[str, ...] = field(default=(), repr=False, compare=False)

    def evaluate(self, activation: Mapping[str, object]) -> object:
        """Evaluate against the variables; raise CelEvalError on any run-time failure."""
        return run(self.fn, declared_only(activation, self.names))


def declared_only(variables: Mapping[str, object], names: tuple[str, ...]) -> Activation:
    """A fresh activation holding only the declared variables.

    Private slots ("@...") live in the same dict; copying only declared names means a caller's
    mapping can never smuggle in a pre-computed slot value (say, a "decoded query" that hides
    the attack) even if it skipped normalisation.
    """
    return {name: variables[name] for name in names if name in variables}


def run(fn: Evaluator, activation: Activation) -> object:
    """Call a compiled closure, turning any unexpected Python error into a CelEvalError."""
    try:
        return fn(activation)
    except CelEvalError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        # Only reachable when an activation breaks its declared types (a caller bug).
        raise CelEvalError(f"evaluation failed: {type(exc).__name__}: {exc}") from exc


def parse_expression(source: str, env: CelEnvironment) -> Expr:
    """Parse CEL source into the AST, within the environment's length and depth limits."""
    limits = env.limits
    return parse(source, max_length=limits.max_source_length, max_depth=limits.max_depth)


def compile_expression(
    source: str | Expr,
    env: CelEnvironment,
    *,
    want_bool: bool = False,
    sharing: Sharing | None = None,
    text: str | None = None,
) -> CompiledExpression:
    """Compile CEL (source or a parsed AST) to a closure; raise CelCompileError with a position.

    `want_bool` refuses expressions that can never yield a bool and checks dyn results at run
    time; `sharing` is the per-activation work shared with sibling expressions (plan_sharing).
    """
    tree = parse_expression(source, env) if isinstance(source, str) else source
    compiled = ExpressionCompiler(env.variables, env.limits, sharing).compile(tree)
    if compiled.cost > env.limits.max_cost:
        raise CelCompileError(
            f"estimated cost {compiled.cost} exceeds the limit {env.limits.max_cost}; "
            "narrow loops or regexes, or test fewer or shorter fields",
            tree.pos,
        )
    fn = compiled.fn
    if want_bool:
        if compiled.type.known and compiled.type != BOOL:
            raise CelCompileError(f"the expression must be a bool, not {compiled.type}", tree.pos)
        if compiled.type.kind is Kind.DYN:
            fn = _bool_result(fn)
    label = text if text is not None else (source if isinstance(source, str) else "")
    return CompiledExpression(label, compiled.type, compiled.cost, fn, tuple(env.variables))


def _bool_result(get: Evaluator) -> Evaluator:
    def checked(a: Activation) -> object:
        value = get(a)
        if value is True or value is False:
            return value
        raise CelEvalError("the expression did not produce a bool")

    return checked


def plan_sharing(trees: Iterable[Expr], limits: CelLimits) -> Sharing:
    """Plan the work that expressions compiled together share within one activation."""
    forest = list(trees)
    return Sharing(
        memo=shared_subexpressions(forest), regex=regex_groups(forest, limits.max_regex_length)
    )


def shared_subexpressions(trees: Iterable[Expr]) -> dict[Expr, str]:
    """Function calls and macros that occur more than once across trees, each with a memo slot.

    Compiling every tree with this mapping makes e.g. `urlDecode(query).lowerAscii()` run once
    per activation however many rules use it. Only calls and macros are worth a memo: a
    field lookup costs less than the memo check itself.
    """
    counts: dict[Expr, int] = {}
    order: list[Expr] = []
    for tree in trees:
        for node in walk(tree):
            if isinstance(node, Call | Comprehension):
                if node not in counts:
                    order.append(node)
                counts[node] = counts.get(node, 0) + 1
    repeated = [node for node in order if counts[node] > 1]
    return {node: f"@m{i}" for i, node in enumerate(repeated)}
