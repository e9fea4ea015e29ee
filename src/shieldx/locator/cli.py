"""`shieldx locator keys …` and `shieldx bench locator` (heavy imports inside the commands)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shieldx.platform.cli_options import ConfigOpt, DataDirOpt, JsonOpt, fail, open_context

if TYPE_CHECKING:
    from shieldx.locator.tokens.service import LocatorService

locator_app = typer.Typer(help="The locator token service.", no_args_is_help=True)
keys_app = typer.Typer(
    help="Token signing keys: rotate, list, retire (running services follow at once).",
    no_args_is_help=True,
)
locator_app.add_typer(keys_app, name="keys")


@contextmanager
def _service(config: Path | None, data_dir: Path | None) -> Iterator[LocatorService]:
    """A locator service on the configured (migrated) database, closed afterwards."""
    from prometheus_client import CollectorRegistry

    from shieldx.locator.metrics import LocatorMetrics
    from shieldx.locator.tokens.service import LocatorService

    ctx = open_context(config, data_dir)
    service = LocatorService(
        db=ctx.db,
        keyring=ctx.keyring,
        settings=ctx.settings,
        metrics=LocatorMetrics(CollectorRegistry()),
    )
    try:
        yield service
    finally:
        service.close()
        ctx.close()


@keys_app.command("list")
def keys_list(
    json_out: JsonOpt = False, config: ConfigOpt = None, data_dir: DataDirOpt = None
) -> None:
    """List signing keys and their state (active, verifying, retired)."""
    import orjson
    from rich.console import Console
    from rich.table import Table

    with _service(config, data_dir) as service:
        records = service.key_records()
        now = service.now()
    if json_out:
        for r in records:
            row = {
                "kid": r.kid,
                "status": r.status(now),
                "created_at": r.created_at.isoformat(),
                "retire_at": r.retire_at.isoformat() if r.retire_at else None,
                "retired_at": r.retired_at.isoformat() if r.retired_at else None,
            }
            print(orjson.dumps(row).decode())
        return
    if not records:
        print("no signing keys yet: the service creates one when it first starts")
        return
    table = Table("kid", "status", "created", "retires at")
    for r in records:
        when = r.retired_at or r.retire_at
        table.add_row(
            r.kid,
            r.status(now),
            f"{r.created_at:%Y-%m-%d %H:%M}",
            f"{when:%Y-%m-%d %H:%M}" if when else "-",
        )
    Console(highlight=False, soft_wrap=True).print(table)


@keys_app.command("rotate")
def keys_rotate(
    json_out: JsonOpt = False, config: ConfigOpt = None, data_dir: DataDirOpt = None
) -> None:
    """Create a new signing key; the previous one keeps verifying for locator.key_grace_period."""
    import orjson

    with _service(config, data_dir) as service:
        kid = service.rotate()
    if json_out:
        print(orjson.dumps({"kid": kid}).decode())
    else:
        print(f"new signing key {kid}; earlier keys verify until their grace period ends")


@keys_app.command("retire")
def keys_retire(
    kid: Annotated[str, typer.Argument(help="The key's kid (from 'locator keys list').")],
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Retire a superseded key now: it leaves the JWKS and its tokens stop verifying."""

    with _service(config, data_dir) as service:
        try:
            service.retire(kid)
        except (LookupError, ValueError) as exc:
            fail(str(exc).strip("'\""))
    print(f"retired signing key {kid}")


def bench_locator(
    http: Annotated[
        bool, typer.Option("--http", help="Also introspect over HTTP with wrk.")
    ] = False,
    json_out: JsonOpt = False,
    seconds: Annotated[
        float, typer.Option(help="Seconds per in-process measurement.", min=0.2)
    ] = 2.0,
    duration: Annotated[float, typer.Option(help="Seconds of HTTP load.", min=1)] = 10.0,
    connections: Annotated[int, typer.Option(help="HTTP connections.", min=1)] = 100,
) -> None:
    """Issue and introspection rates next to raw Ed25519 sign/verify; print JSON."""
    import orjson

    from shieldx.locator.bench import run

    report = run(http=http, seconds=seconds, duration=duration, connections=connections)
    option = 0 if json_out else orjson.OPT_INDENT_2
    print(orjson.dumps(report, option=option).decode())


COMMANDS = [("locator", locator_app)]
BENCH = bench_locator
