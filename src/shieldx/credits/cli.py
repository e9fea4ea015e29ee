"""`shieldx credits …` (rebuild-projections, verify, reseal) and `shieldx bench credits`.

Import-light: the heavy modules are imported inside the commands.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from shieldx.credits.shards.cli import shards_app
from shieldx.platform.cli_options import ConfigOpt, DataDirOpt, JsonOpt, open_context

credits_app = typer.Typer(help="Credits ledger maintenance.", no_args_is_help=True)
COMMANDS: list[tuple[str, typer.Typer]] = [("credits", credits_app), ("shards", shards_app)]


@credits_app.command("rebuild-projections")
def rebuild_projections(
    config: ConfigOpt = None, data_dir: DataDirOpt = None, json_out: JsonOpt = False
) -> None:
    """Recompute balances, history and usage from the event store (one transaction)."""
    import orjson
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TimeRemainingColumn

    from shieldx.credits.projections.runner import rebuild
    from shieldx.credits.shards.store import ledger_databases
    from shieldx.credits.store.backends import create_store

    ctx = open_context(config, data_dir)
    databases = ledger_databases(ctx)
    try:
        console = Console(stderr=True)
        summaries: list[dict[str, Any]] = []
        for name, db in databases:
            columns = (BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
            with Progress(*Progress.get_default_columns()[:1], *columns, console=console) as bar:
                task = bar.add_task(f"replaying events ({name})", total=None)

                def progress(done: int, total: int, task: TaskID = task) -> None:
                    bar.update(task, completed=done, total=total)

                report = rebuild(create_store(db), progress=progress)
            rate = report.events / report.seconds if report.seconds else 0.0
            summaries.append(
                {
                    "shard": name,
                    "events": report.events,
                    "accounts": report.accounts,
                    "history_rows": report.history_rows,
                    "usage_rows": report.usage_rows,
                    "seconds": round(report.seconds, 3),
                    "events_per_s": round(rate),
                }
            )
            if not json_out:
                console.print(
                    f"{name}: rebuilt {report.accounts} balances, {report.history_rows} history "
                    f"rows and {report.usage_rows} usage rows from {report.events} events in "
                    f"{report.seconds:.2f} s ({rate:,.0f} events/s)"
                )
        if json_out:
            summary = {k: v for k, v in summaries[0].items() if k != "shard"}
            if len(summaries) > 1:
                summary = {
                    **{
                        k: sum(int(s[k]) for s in summaries)
                        for k in ("events", "accounts", "history_rows", "usage_rows")
                    },
                    "seconds": round(sum(float(s["seconds"]) for s in summaries), 3),
                    "shards": summaries,
                }
            print(orjson.dumps(summary).decode())
    finally:
        _close(ctx, databases)


@credits_app.command("verify")
def verify(
    from_position: Annotated[
        int | None, typer.Option("--from", min=1, help="First position.")
    ] = None,
    to_position: Annotated[int | None, typer.Option("--to", min=1, help="Last position.")] = None,
    deep: Annotated[
        bool, typer.Option("--deep", help="Also check snapshots and balance rows.")
    ] = False,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Recompute the hash chain; exit 1 and name the first bad position if it is broken."""
    import orjson

    from shieldx.credits.audit.verify import RangeRefused, combine
    from shieldx.credits.audit.verify import verify as verify_chain
    from shieldx.credits.shards.store import ledger_databases
    from shieldx.credits.store.backends import create_store

    ctx = open_context(config, data_dir)
    databases = ledger_databases(ctx)
    results: dict[str, dict[str, Any]] = {}
    try:
        for name, db in databases:
            found = verify_chain(
                create_store(db), from_position=from_position, to_position=to_position, deep=deep
            )
            results[name] = found.as_dict()
    except RangeRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    finally:
        _close(ctx, databases)
    result = results["main"] if len(results) == 1 else combine(results)
    if json_out:
        print(orjson.dumps(result).decode())
    elif result["ok"]:
        print(f"ok: {result['verified_events']} events, head {result['head_hash']}")
    else:
        where = f"shard {result['shard']}, " if result.get("shard") else ""
        print(f"BROKEN at {where}position {result['first_bad_position']}: {result['reason']}")
        for found_row in result["mismatches"]:
            print(
                f"  {found_row['kind']} {found_row['tenant']}/{found_row['account_id']}: "
                f"{found_row['reason']}"
            )
    if not result["ok"]:
        raise typer.Exit(1)


def _close(ctx: Any, databases: list[tuple[str, Any]]) -> None:
    for _, db in databases:
        if db is not ctx.db:
            db.dispose()
    ctx.close()


@credits_app.command("reseal")
def reseal(config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """Re-encrypt payment details and webhook secrets with the active key (after a rotation)."""
    from shieldx.credits.store.reseal import reseal_all

    ctx = open_context(config, data_dir)
    try:
        counts = reseal_all(ctx.db, ctx.keyring)
    finally:
        ctx.close()
    print(
        f"resealed {counts['payments']} payment record(s) and {counts['secrets']} webhook "
        f"secret(s) with key {ctx.keyring.active_id}"
    )


def bench_credits(
    backend: Annotated[str, typer.Option(help="sqlite or postgres.")] = "sqlite",
    http: Annotated[bool, typer.Option("--http", help="Over HTTP with wrk/hey.")] = False,
    accounts: Annotated[int, typer.Option(help="Accounts.", min=1)] = 10_000,
    concurrency: Annotated[int, typer.Option(help="Concurrent callers.", min=1)] = 256,
    duration: Annotated[float, typer.Option(help="Seconds of load.", min=1)] = 10.0,
    connections: Annotated[int, typer.Option(help="HTTP connections (--http).", min=1)] = 100,
    database_url: Annotated[
        str | None,
        typer.Option(
            help="PostgreSQL server to create a scratch database on (--backend postgres)."
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Group-commit throughput, latency and replay speed of the ledger; prints JSON."""
    from shieldx.credits.bench.runner import run_bench

    if backend not in ("sqlite", "postgres"):
        raise typer.BadParameter("--backend must be sqlite or postgres")
    run_bench(
        backend=backend,
        http=http,
        accounts=accounts,
        concurrency=concurrency,
        duration=duration,
        connections=connections,
        database_url=database_url,
        quiet=json_out,
    )


def bench_shards(
    backend: Annotated[str, typer.Option(help="postgres or sqlite.")] = "postgres",
    accounts: Annotated[int, typer.Option(help="Accounts.", min=2)] = 10_000,
    concurrency: Annotated[int, typer.Option(help="Concurrent callers.", min=1)] = 256,
    duration: Annotated[float, typer.Option(help="Seconds of load per layout.", min=0.2)] = 5.0,
    database_url: Annotated[
        str | None,
        typer.Option(help="PostgreSQL server to create the scratch databases on."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Writes/s and p99 on 1, 2 and 4 shards, cross-shard transfer latency, ring lookups."""
    from shieldx.credits.bench.shards import run_shards_bench

    if backend not in ("sqlite", "postgres"):
        raise typer.BadParameter("--backend must be sqlite or postgres")
    run_shards_bench(
        backend=backend,
        accounts=accounts,
        concurrency=concurrency,
        duration=duration,
        database_url=database_url,
        quiet=json_out,
    )


BENCH = bench_credits
# More benchmarks of this service: `shieldx bench NAME`.
BENCHES = [("shards", bench_shards)]
