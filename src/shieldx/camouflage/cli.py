"""`shieldx synth …`, `shieldx camouflage …` and `shieldx bench camouflage` (heavy imports inside)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from shieldx.platform.cli_options import ConfigOpt, DataDirOpt, JsonOpt, fail, open_context

synth_app = typer.Typer(
    help="Synthetic users, transactions and network flows (seeded), and their realism score.",
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
    kind: Annotated[str, typer.Option("--kind", "-k", help="users, transactions or traffic.")],
    count: CountOpt = 10_000,
    seed: SeedOpt = 0,
    json_out: JsonOpt = False,
) -> None:
    """The realism score: KSComplement / TVComplement per column against the targets."""
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


COMMANDS = [("synth", synth_app), ("camouflage", camouflage_app)]
BENCH = bench_camouflage
