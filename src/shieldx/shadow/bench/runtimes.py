"""The maintained CEL runtimes for Python beside ours, on the benchmark's rules (optional).

`common-expression-language` (module `cel`, bindings of the Rust cel crate) and
`cel-expr-python` (module `cel_expr_python`, bindings of Google's C++ cel-cpp) run the same
50 sample rules on the same records with RuleSet's decision semantics (rules in evaluation
order, an evaluation error skips the rule: fail-open; the first true non-log rule decides).
Our extension functions (urlDecode, lowerAscii, inCidr) are registered as Python callables
in both, with the implementations our engine uses. Each runtime is skipped, with the reason
in the report, when its package is not installed. Records are converted to each runtime's
values once, outside the timing, which favours them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from shieldx.shadow.bench.inprocess import BenchResult, time_decisions
from shieldx.shadow.cel import runtime as rt
from shieldx.shadow.rules.domain import Action, RuleSet
from shieldx.shadow.rules.records import RequestRecord

Decide = Callable[[Any], tuple[Action, str | None]]


def _url_decode(value: str) -> str:
    return rt.url_decode(value)


def _lower_ascii(value: str) -> str:
    return rt.lower_ascii(value)


def _in_cidr(address: str, networks: object) -> bool:
    plain = [str(n) for n in networks] if isinstance(networks, list) else str(networks)
    return rt.ip_in_networks(rt.parse_ip(address), rt.parse_networks(plain))


def _plan(ruleset: RuleSet, compile_rule: Callable[[str], Any]) -> list[tuple[str, Action, Any]]:
    by_id = {rule.id: rule for rule in ruleset.rules}
    return [
        (rule_id, Action(by_id[rule_id].action), compile_rule(by_id[rule_id].expression))
        for rule_id in ruleset.evaluation_order
    ]


def _decider(plan: Sequence[tuple[str, Action, Any]], run: Callable[[Any, Any], object]) -> Decide:
    def decide(variables: Any) -> tuple[Action, str | None]:
        for rule_id, action, program in plan:
            try:
                hit = run(program, variables)
            except Exception:  # noqa: S112 - an evaluation error skips the rule (fail-open)
                continue
            if hit is True and action is not Action.LOG:
                return action, rule_id
        return Action.ALLOW, None

    return decide


def rust_runtime(ruleset: RuleSet) -> tuple[Decide, Callable[[RequestRecord], Any]]:
    """common-expression-language: (decide, convert a record to its context)."""
    cel: Any = importlib.import_module("cel")
    plan = _plan(ruleset, cel.compile)

    def convert(record: RequestRecord) -> Any:
        context = cel.Context()
        context.add_function("urlDecode", _url_decode)
        context.add_function("lowerAscii", _lower_ascii)
        context.add_function("inCidr", _in_cidr)
        for name, value in record.items():
            context.add_variable(name, value)
        return context

    return _decider(plan, lambda program, context: program.execute(context)), convert


def cpp_runtime(ruleset: RuleSet) -> tuple[Decide, Callable[[RequestRecord], Any]]:
    """cel-expr-python: (decide, convert a record to its data mapping)."""
    cel: Any = importlib.import_module("cel_expr_python.cel")
    string, boolean = cel.Type.STRING, cel.Type.BOOL
    strings = cel.Type.List(string)
    functions = [
        cel.FunctionDecl(
            "urlDecode",
            [cel.Overload("urlDecode_string", string, [string], impl=_url_decode)],
        ),
        cel.FunctionDecl(
            "lowerAscii",
            [cel.Overload("string_lowerAscii", string, [string], True, _lower_ascii)],
        ),
        cel.FunctionDecl(
            "inCidr",
            [
                cel.Overload("string_inCidr_string", boolean, [string, string], True, _in_cidr),
                cel.Overload("string_inCidr_list", boolean, [string, strings], True, _in_cidr),
            ],
        ),
    ]
    variables = {
        "method": string,
        "path": string,
        "query": string,
        "headers": cel.Type.Map(string, string),
        "ip": string,
        "country": string,
        "asn": cel.Type.INT,
        "user_agent": string,
        "body_size": cel.Type.INT,
        "tenant": string,
    }
    env = cel.NewEnv(variables=variables, functions=functions)
    plan = _plan(ruleset, env.compile)

    def run(program: Any, data: Mapping[str, object]) -> object:
        return program.eval(data=data).plain_value()

    return _decider(plan, run), dict


RUNTIMES: dict[str, Callable[[RuleSet], tuple[Decide, Callable[[RequestRecord], Any]]]] = {
    "common-expression-language (Rust)": rust_runtime,
    "cel-expr-python (C++)": cpp_runtime,
}


def bench_runtime(
    name: str, ruleset: RuleSet, records: Sequence[RequestRecord], decisions: int
) -> BenchResult | str:
    """One runtime's figures, or why it could not run."""
    try:
        decide, convert = RUNTIMES[name](ruleset)
    except ImportError as exc:
        return f"not installed ({exc.name}); pip install -e '.[dev]'"
    except Exception as exc:
        return f"cannot compile the rules: {str(exc)[:300]}"
    converted = [convert(r) for r in records[: max(decisions, 1)]]
    count = len(converted)
    decide(converted[0])  # warm-up
    return time_decisions(
        name, len(ruleset.rules), lambda i: decide(converted[i % count]), decisions
    )


def agreement(name: str, ruleset: RuleSet, records: Sequence[RequestRecord]) -> dict[str, object]:
    """How many of RECORDS the runtime decides as our engine does (action and rule)."""
    decide, convert = RUNTIMES[name](ruleset)
    differ = [
        r
        for r in records
        if decide(convert(r)) != (lambda d: (d.action, d.rule_id))(ruleset.decide(r))
    ]
    return {"records": len(records), "same": len(records) - len(differ)}


def runtimes_report(
    *, decisions: int = 300, records: int = 5000, seed: int = 20240601, agree_on: int = 1000
) -> list[dict[str, object]]:
    """Every runtime's figures on the sample rules, its ratio to ours and its agreement."""
    from shieldx.shadow.bench.inprocess import bench_closures
    from shieldx.shadow.rules.corpus import generate_corpus
    from shieldx.shadow.rules.sample_rules import sample_ruleset

    ruleset = sample_ruleset()
    corpus = [item.record for item in generate_corpus(records, seed=seed)]
    ours = bench_closures(ruleset, corpus, 20_000)
    out: list[dict[str, object]] = []
    for name in RUNTIMES:
        result = bench_runtime(name, ruleset, corpus, decisions)
        if isinstance(result, str):
            out.append({"engine": name, "skipped": result})
            continue
        out.append(
            {
                "engine": name,
                "decisions": result.decisions,
                "decisions_per_s": round(result.decisions_per_s, 1),
                "p99_us": round(result.p99_us, 1),
                "closures_decisions_per_s": round(ours.decisions_per_s, 1),
                "closures_ratio": round(ours.decisions_per_s / result.decisions_per_s, 1),
                "same_decisions": agreement(name, ruleset, corpus[:agree_on]),
            }
        )
    return out
