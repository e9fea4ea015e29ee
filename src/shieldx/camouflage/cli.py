"""`shieldx synth …`, `shieldx camouflage …` and `shieldx bench camouflage` (heavy imports inside)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from shieldx.platform.cli_options import ConfigOpt, DataDirOpt, JsonOpt, fail, open_context

synth_app = typer.Typer(
    help="Synthetic users, transactions and network flows (seeded), and their realism score; "
    "models fitted to a real sample (fit, sample, quality --real).",
    no_args_is_help=True,
)
camouflage_app = typer.Typer(
    help="Decoy templates and previews; attacker actors and their STIX 2.1 export.",
    no_args_is_help=True,
)

CountOpt = Annotated[int, typer.Option("--count", "-n", help="How many records.", min=1)]
SeedOpt = Annotated[int, typer.Option("--seed", "-s", help="The seed (same seed, same output).")]
FormatOpt = Annotated[str, typer.Option("--format", "-f", help="jsonl or csv.")]
OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="Output file [default: stdout].")]


def _fail(message: str, code: int = 2) -> NoReturn:
    fail(message, code)  # usage errors: exit 2


def _generate(kind: str, count: int, seed: int, fmt: str, out: Path | None) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from shieldx.camouflage.synth import FORMATS, write_synth

    if fmt not in FORMATS:
        _fail(f"--format must be one of {', '.join(FORMATS)} (got {fmt!r})")
    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    # The bar goes to stderr so that stdout carries only the records.
    with Progress(*columns, console=Console(stderr=True), transient=out is None) as progress:
        task = progress.add_task(f"{kind}", total=count)
        written = write_synth(
            kind,
            seed=seed,
            count=count,
            fmt=fmt,
            path=out,
            progress=lambda n: progress.advance(task, n),
        )
    if out is not None:
        print(f"wrote {written} {kind} records to {out}", file=sys.stderr)


_KINDS = {
    "users": "Users: Markov usernames, emails, age ~ Normal(35, 15), logins, devices.",
    "transactions": "Transactions: Pareto amounts, Markov merchants, types, fraud scores, places.",
    "traffic": "Network flows: TCP 70% / UDP 25% / ICMP 5%, weighted ports, LogNormal bytes.",
}


def _kind_command(kind: str, summary: str) -> Callable[..., None]:
    def command(
        count: CountOpt = 1000, seed: SeedOpt = 0, fmt: FormatOpt = "jsonl", out: OutOpt = None
    ) -> None:
        _generate(kind, count, seed, fmt, out)

    command.__doc__ = summary
    return command


for _kind, _summary in _KINDS.items():
    synth_app.command(_kind)(_kind_command(_kind, _summary))


@synth_app.command("quality")
def synth_quality(
    kind: Annotated[
        str | None, typer.Option("--kind", "-k", help="users, transactions or traffic.")
    ] = None,
    count: CountOpt = 10_000,
    seed: SeedOpt = 0,
    real: Annotated[
        Path | None, typer.Option("--real", help="A real sample (CSV) to compare with.")
    ] = None,
    synthetic: Annotated[
        Path | None, typer.Option("--synthetic", help="Generated rows (CSV) to judge.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """The realism score of a kind (--kind), or of generated rows against a sample (--real)."""
    if real is not None or synthetic is not None:
        if kind is not None or real is None or synthetic is None:
            _fail("give --real and --synthetic together, without --kind")
        _sample_quality(real, synthetic, seed, json_out)
        return
    if kind is None:
        _fail("give --kind (users, transactions, traffic), or --real and --synthetic")
    _kind_quality(kind, count, seed, json_out)


def _kind_quality(kind: str, count: int, seed: int, json_out: bool) -> None:
    import orjson
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from shieldx.camouflage.synth import Kind, score_quality

    try:
        Kind.parse(kind)
    except ValueError as exc:
        _fail(str(exc))
    with Progress(console=Console(stderr=True), transient=True, disable=json_out) as progress:
        task = progress.add_task(f"generating {kind}", total=count)
        report = score_quality(
            kind, count=count, seed=seed, progress=lambda n: progress.advance(task, n)
        )
    if json_out:
        print(orjson.dumps(report.to_dict()).decode())
        return
    table = Table("column", "metric", "score", "against", title=f"{kind}: {count} records")
    for column in report.columns:
        table.add_row(column.column, column.metric, f"{column.score:.4f}", column.reference)
    console = Console()
    console.print(table)
    console.print(f"overall realism score: [bold]{report.overall:.4f}[/]")


def _sample_quality(real: Path, synthetic: Path, seed: int, json_out: bool) -> None:
    import orjson

    from shieldx.camouflage.synth.fidelity import MissingExtra, quality_report
    from shieldx.camouflage.synth.files import TableFileError, read_table

    try:
        report = quality_report(read_table(real), read_table(synthetic, min_rows=1), seed=seed)
    except MissingExtra as exc:
        _fail(str(exc), code=1)
    except (TableFileError, ValueError) as exc:
        _fail(str(exc))
    if json_out:
        print(orjson.dumps(report).decode())
        return
    privacy = report["privacy"]
    assert isinstance(privacy, dict)
    print(
        f"quality {report['quality']} (column shapes {report['column_shapes']}, "
        f"column pair trends {report['column_pair_trends']})\n"
        f"privacy: {privacy['exact_copies']} exact copies, distance to closest record "
        f"min {privacy['dcr_min']} median {privacy['dcr_median']} "
        f"(real rows to each other: median {privacy['real_nn_median']})"
    )


ModelOpt = Annotated[Path, typer.Option("--output", "-o", help="Where to write the model (JSON).")]


@synth_app.command("fit")
def synth_fit(
    sample: Annotated[Path, typer.Argument(help="A real table: CSV with a header line.")],
    output: ModelOpt,
    seed: SeedOpt = 0,
) -> None:
    """Learn column types, marginals and correlations (Gaussian copula) from a CSV sample."""
    from shieldx.camouflage.synth.files import TableFileError, read_table, save_model
    from shieldx.camouflage.synth.model import SampleTooSmall, fit

    try:
        model = fit(read_table(sample), seed=seed)
    except (TableFileError, SampleTooSmall) as exc:
        _fail(str(exc))
    size = save_model(model, output)
    types = ", ".join(f"{c.name} {c.type.value}" for c in model.columns)
    print(
        f"learned {len(model.columns)} columns from {model.rows} rows ({types}); "
        f"wrote {output} ({size:,} bytes)",
        file=sys.stderr,
    )


@synth_app.command("sample")
def synth_sample(
    model_file: Annotated[
        Path, typer.Argument(metavar="MODEL", help="A model file written by synth fit.")
    ],
    count: CountOpt = 1000,
    seed: SeedOpt = 0,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="CSV file [default: stdout].")
    ] = None,
) -> None:
    """Generate COUNT rows (CSV) from a model; none equals a real row of the sample."""
    from shieldx.camouflage.synth.fields import ModelError
    from shieldx.camouflage.synth.files import load_model, write_table

    try:
        model = load_model(model_file)
    except ModelError as exc:
        _fail(str(exc))
    try:
        generated = model.sample(count, seed=seed)
    except ValueError as exc:
        _fail(str(exc), code=1)
    text = write_table(generated.table, output)
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    print(
        f"wrote {count} rows to {output} ({generated.rejected} generated rows rejected as "
        "copies of real rows)",
        file=sys.stderr,
    )


@camouflage_app.command("templates")
def camouflage_templates(json_out: JsonOpt = False) -> None:
    """List the bundled decoy templates."""
    import orjson

    from shieldx.camouflage.decoys.previews import templates

    rows = templates()
    if json_out:
        print(orjson.dumps(rows).decode())
        return
    for row in rows:
        print(f"{row['name']:<24} {row['server']} {row['version']}: {row['description']}")


@camouflage_app.command("preview")
def camouflage_preview(
    template: Annotated[str, typer.Argument(help="A bundled template name.")],
    path: Annotated[str, typer.Argument(help="The request path, e.g. /missing.")] = "/",
    method: Annotated[str, typer.Option(help="The request method.")] = "GET",
) -> None:
    """Print what a template answers to METHOD PATH (status line, headers, body)."""
    from shieldx.camouflage.decoys import UnknownTemplateError, render

    try:
        response = render(template, method, path)
    except UnknownTemplateError as exc:
        _fail(str(exc.args[0]))
    print(f"{response.status} {response.reason}")
    for name, value in response.headers:
        print(f"{name}: {value}")
    print()
    sys.stdout.buffer.write(response.body)
    sys.stdout.flush()


SinceOpt = Annotated[
    str | None,
    typer.Option(
        "--since", help="Only sessions active from this time (ISO 8601, e.g. 2026-12-01T00:00Z)."
    ),
]
SessionsOpt = Annotated[
    int,
    typer.Option("--sessions", help="How many of the most recent stored sessions to group.", min=1),
]


def _since(text: str | None) -> float | None:
    from datetime import UTC, datetime

    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        _fail(f"--since must be an ISO 8601 time such as 2026-12-01T00:00:00Z (got {text!r})")
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def _actors(config: Path | None, data_dir: Path | None, since: str | None, sessions: int) -> Any:
    from shieldx.camouflage.actors.service import actors_of
    from shieldx.camouflage.actors.store import ActorStore

    start = _since(since)
    ctx = open_context(config, data_dir)
    try:
        found = actors_of(
            store=ActorStore(ctx.db), registry=ctx.honeytokens, since=start, limit=sessions
        )
        return found, ctx.settings.camouflage.sensor
    finally:
        ctx.close()


@camouflage_app.command("actors")
def camouflage_actors(
    json_out: JsonOpt = False,
    since: SinceOpt = None,
    sessions: SessionsOpt = 2000,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Attacker actors from the stored sessions: score, sessions, ATT&CK techniques, evidence."""
    import orjson

    from shieldx.camouflage.actors.service import listing

    (actors, _, _), _ = _actors(config, data_dir, since, sessions)
    rows = listing(actors)
    if json_out:
        print(orjson.dumps(rows).decode())
        return
    if not rows:
        print("no actors (no stored sessions in the window)")
    for row in rows:
        techniques = ",".join(t["id"] for t in row["techniques"])
        print(
            f"{row['id']}  score {row['score']:.3f}  {len(row['sessions'])} session(s)  "
            f"from {', '.join(row['addresses'])}  [{techniques}]"
        )
        for item in row["evidence"][:5]:
            print(f"    {item['weight']:.2f} {item['type']}: {item['summary']}")


@camouflage_app.command("export-stix")
def camouflage_export_stix(
    output: Annotated[Path, typer.Option("--output", "-o", help="The bundle file to write.")],
    since: SinceOpt = None,
    sessions: SessionsOpt = 2000,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Write the actors and their indicators as a STIX 2.1 bundle (JSON)."""
    import socket

    from shieldx.camouflage.actors.service import stix_json

    (actors, links, _), sensor = _actors(config, data_dir, since, sessions)
    text = stix_json(actors, links, sensor=sensor or socket.gethostname())
    try:
        output.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        _fail(f"cannot write {output}: {exc.strerror}", code=1)
    print(f"wrote {len(actors)} actor(s) to {output}", file=sys.stderr)


def bench_camouflage(
    duration: Annotated[float, typer.Option(help="Seconds of measured load.", min=1)] = 10.0,
    connections: Annotated[int, typer.Option(help="Concurrent connections.", min=1)] = 100,
    threads: Annotated[int, typer.Option(help="Load-generator threads.", min=1)] = 1,
    template: Annotated[str, typer.Option(help="The decoy's template.")] = "nginx-1.22.1-debian",
    min_requests: Annotated[
        int, typer.Option(help="Keep loading until this many requests (for the memory check).")
    ] = 100_000,
    json_out: JsonOpt = False,
) -> None:
    """A real decoy with recording on under wrk: rps, p99, recorded events, memory; JSON."""
    from shieldx.camouflage.bench import camouflage_bench, print_report
    from shieldx.platform.loadgen import LoadGenError

    try:
        report = camouflage_bench(
            duration=duration,
            connections=connections,
            threads=threads,
            template=template,
            min_requests=min_requests,
            quiet=json_out,
        )
    except LoadGenError as exc:
        _fail(str(exc), code=1)
    print_report(report, as_json=json_out)


def bench_synth(
    rows: Annotated[int, typer.Option(help="Demo rows to fit and to sample.", min=100)] = 20_000,
    quality_rows: Annotated[
        int, typer.Option(help="Rows judged for quality and privacy.", min=100)
    ] = 2_000,
    seed: SeedOpt = 0,
    json_out: JsonOpt = False,
) -> None:
    """Rows/s to fit and to sample a copula (against numpy references), quality, privacy."""
    import orjson

    from shieldx.camouflage.synth.bench import synth_bench

    report = synth_bench(rows=rows, quality_rows=quality_rows, seed=seed)
    if json_out:
        print(orjson.dumps(report).decode())
        return
    print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())


COMMANDS = [("synth", synth_app), ("camouflage", camouflage_app)]
BENCH = bench_camouflage
# Further `shieldx bench <name>` commands of this service.
BENCHES = [("synth", bench_synth)]
