"""`shieldx shadow replay|corpus|sample-rules` and `shieldx bench shadow` (heavy imports inside)."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from shieldx.platform.cli_options import ConfigOpt, DataDirOpt, JsonOpt, fail, open_context

shadow_app = typer.Typer(
    help="Shadow rules: deterministic replay of recorded traffic, the sample corpus and rules.",
    no_args_is_help=True,
)

FROZEN_AT = "2024-06-01T00:00:00+00:00"


def _fail(message: str, code: int = 2) -> NoReturn:
    fail(message, code)  # usage errors: exit 2


def _read(path: Path) -> bytes:
    if str(path) == "-":
        return sys.stdin.buffer.read()
    try:
        return path.read_bytes()
    except OSError as exc:
        _fail(f"cannot read {path}: {exc.strerror}")


def _stored_ruleset(
    ref: str, tenant: str | None, config: Path | None, data_dir: Path | None
) -> object:
    from shieldx.shadow.rules.catalog import RuleSetCatalog, UnknownRuleSet
    from shieldx.shadow.rules.domain import parse_ruleset_ref
    from shieldx.shadow.rules.store import RuleSetStore

    if tenant is None:
        _fail("--ruleset reads the database: name the tenant with --tenant")
    try:
        name, version = parse_ruleset_ref(ref)
    except ValueError as exc:
        _fail(str(exc))
    ctx = open_context(config, data_dir)
    try:
        return RuleSetCatalog(RuleSetStore(ctx.db)).get(tenant, name, version)
    except UnknownRuleSet as exc:
        _fail(str(exc))
    finally:
        ctx.close()


def _ruleset(
    ref: str | None,
    rules: Path | None,
    tenant: str | None,
    config: Path | None,
    data_dir: Path | None,
    *,
    default_name: str,
) -> object:
    from shieldx.shadow.replay.files import ReplayInputError, load_rules
    from shieldx.shadow.rules.domain import InvalidRuleSet
    from shieldx.shadow.rules.sample_rules import sample_ruleset

    if ref is not None and rules is not None:
        _fail("give --ruleset or --rules, not both")
    if ref is not None:
        return _stored_ruleset(ref, tenant, config, data_dir)
    if rules is None:
        return sample_ruleset()
    try:
        return load_rules(_read(rules), default_name)
    except (ReplayInputError, InvalidRuleSet, ValueError) as exc:
        _fail(f"{rules}: {exc}")


@shadow_app.command("replay")
def replay_command(
    file: Annotated[
        Path, typer.Argument(help="Recorded traffic: JSON lines or a JSON array ('-': stdin).")
    ],
    ruleset: Annotated[str | None, typer.Option(help="A stored rule set, name@version.")] = None,
    rules: Annotated[Path | None, typer.Option(help="A rules file (JSON or YAML).")] = None,
    candidate: Annotated[
        str | None, typer.Option(help="Diff against this stored rule set.")
    ] = None,
    candidate_rules: Annotated[
        Path | None, typer.Option(help="Diff against this rules file.")
    ] = None,
    tenant: Annotated[str | None, typer.Option(help="Tenant of stored rule sets.")] = None,
    at: Annotated[str, typer.Option(help="The frozen instant the replay runs at.")] = FROZEN_AT,
    decisions: Annotated[
        bool, typer.Option(help="Include every decision, in input order.")
    ] = False,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Replay recorded traffic against a rule set, deterministically (the sample set by default)."""
    import orjson

    from shieldx.shadow.replay.files import ReplayInputError, read_traffic, replay_doc
    from shieldx.shadow.replay.runner import FrozenClock, diff_verdicts, replay
    from shieldx.shadow.rules.domain import RuleSet

    try:
        clock = FrozenClock(datetime.fromisoformat(at))
    except ValueError:
        _fail(f"--at must be an ISO 8601 instant (got {at!r})")
    data = _read(file)
    try:
        traffic = read_traffic(data)
    except ReplayInputError as exc:
        _fail(f"{file}: {exc}")
    primary = _ruleset(ruleset, rules, tenant, config, data_dir, default_name="rules")
    assert isinstance(primary, RuleSet)
    result = replay(traffic, primary, clock)
    diff, other_ref = None, None
    if candidate is not None or candidate_rules is not None:
        other = _ruleset(
            candidate, candidate_rules, tenant, config, data_dir, default_name="candidate"
        )
        assert isinstance(other, RuleSet)
        diff, other_ref = diff_verdicts(traffic, primary, other), other.ref
    doc = replay_doc(data, result, diff=diff, candidate=other_ref, decisions=decisions)
    if json_out:
        print(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
        return
    _print_summary(doc)


def _print_summary(doc: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    out = Console(highlight=False, soft_wrap=True)
    records, ruleset, at = doc["input"]["records"], doc["ruleset"], doc["evaluated_at"]
    out.print(f"replayed {records} records against {ruleset} at {at}")
    table = Table("action", "requests")
    for action, count in doc["actions"].items():
        table.add_row(action, str(count))
    out.print(table)
    rates = doc["counts"]["rates"]
    out.print(
        "block rate {block_rate}, false-positive rate {false_positive_rate}, "
        "detection rate {detection_rate}".format(**rates)
    )
    if "diff" in doc:
        blast = doc["diff"]["blast_radius"]
        out.print(
            f"against {doc['candidate']}: {blast['requests']} requests from {blast['clients']} "
            "clients would be newly blocked"
        )


@shadow_app.command("corpus")
def corpus_command(
    count: Annotated[int, typer.Option(help="How many records.", min=0, max=10_000_000)] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same corpus).")] = 20240601,
    attack_share: Annotated[float, typer.Option(help="Share of attacks.", min=0.0, max=1.0)] = 0.25,
    out: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
) -> None:
    """Write the labelled sample corpus as JSON lines (benign traffic and attacks)."""
    from shieldx.shadow.replay.files import corpus_lines
    from shieldx.shadow.rules.corpus import generate_corpus

    lines = corpus_lines(generate_corpus(count, seed=seed, attack_share=attack_share))
    if out is None:
        sys.stdout.buffer.writelines(lines)
        sys.stdout.flush()
        return
    with out.open("wb") as handle:
        handle.writelines(lines)


@shadow_app.command("sample-rules")
def sample_rules_command() -> None:
    """Print the 50 sample rules as a POST /shadow/rulesets body."""
    import orjson

    from shieldx.shadow.replay.files import rules_document
    from shieldx.shadow.rules.sample_rules import sample_ruleset

    ruleset = sample_ruleset()
    doc = rules_document(ruleset.name, ruleset.on_error, ruleset.rules)
    print(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())


def bench(
    http: Annotated[
        bool, typer.Option("--http", help="Also measure /shadow/decide over HTTP with wrk.")
    ] = False,
    isolation: Annotated[
        bool,
        typer.Option(
            "--isolation",
            help="Only measure credits /health p99 under shieldx up while /shadow/decide is "
            "saturated with the worst rule set the budget accepts (wrk).",
        ),
    ] = False,
    duration: Annotated[float, typer.Option(help="Seconds of HTTP load.", min=1)] = 10.0,
    connections: Annotated[int, typer.Option(help="HTTP connections.", min=1)] = 100,
    threads: Annotated[int, typer.Option(help="wrk threads.", min=1)] = 1,
    access_log: Annotated[bool, typer.Option(help="Server access log (on by default).")] = True,
    decisions: Annotated[int, typer.Option(help="In-process decisions to time.", min=100)] = 20_000,
    celpy: Annotated[bool, typer.Option(help="Also time cel-python's runners (slow).")] = True,
    cel_runtimes: Annotated[
        bool,
        typer.Option(
            "--cel-runtimes",
            help="Also time the two maintained CEL runtimes for Python, written in Rust and "
            "in C++ (installed by the dev extra), on the same rules, beside ours.",
        ),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Decisions per second of the 50 sample rules on the sample corpus (in-process; --http too)."""
    import orjson

    from shieldx.platform.bench import machine
    from shieldx.platform.loadgen import LoadGenError
    from shieldx.shadow.bench.inprocess import run_benchmark

    option = orjson.OPT_INDENT_2 if not json_out else 0
    if isolation:
        from shieldx.shadow.bench.isolation import isolation_benchmark

        try:
            doc = isolation_benchmark(duration=duration)
        except LoadGenError as exc:
            _fail(str(exc), code=1)
        doc["machine"] = machine()
        print(orjson.dumps(doc, option=option).decode())
        return
    report = run_benchmark(decisions=decisions, celpy_decisions=200 if celpy else 0)
    report["machine"] = machine()
    if cel_runtimes:
        from shieldx.shadow.bench.runtimes import runtimes_report

        report["cel_runtimes"] = runtimes_report()
    if http:
        from shieldx.shadow.bench.http import http_benchmark

        try:
            report["http"] = http_benchmark(
                duration=duration, connections=connections, threads=threads, access_log=access_log
            )
        except LoadGenError as exc:
            _fail(str(exc), code=1)
    print(orjson.dumps(report, option=option).decode())


COMMANDS = [("shadow", shadow_app)]
BENCH = bench
