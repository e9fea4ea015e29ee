"""`shieldx dr lab up|down` and `shieldx dr drill`.

The lab and the drill drive real processes on this machine (etcd, Patroni, PostgreSQL, a
credits service); import-light: heavy modules are imported inside the commands.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from shieldx.platform.cli_options import JsonOpt, fail, out

dr_app = typer.Typer(help="High availability and disaster recovery.", no_args_is_help=True)
lab_app = typer.Typer(
    help="A local two-region deployment (etcd + Patroni) on loopback.", no_args_is_help=True
)
dr_app.add_typer(lab_app, name="lab")
COMMANDS: list[tuple[str, typer.Typer]] = [("dr", dr_app)]

DEFAULT_LAB = Path(tempfile.gettempdir()) / "shieldx-dr-lab"
DirOpt = Annotated[
    Path, typer.Option("--dir", help="The lab's directory.", file_okay=False)
]  # fmt: skip


@lab_app.command("up")
def lab_up(
    mode: Annotated[
        str, typer.Option("--mode", help="Replication mode: sync, semi_sync or async.")
    ] = "sync",
    directory: DirOpt = DEFAULT_LAB,
    json_out: JsonOpt = False,
) -> None:
    """Start etcd and one Patroni-managed PostgreSQL per region; print how to reach them."""
    from shieldx.dr.lab.domain import MODES
    from shieldx.dr.lab.service import LabError, up

    if mode not in MODES:
        fail(f"--mode must be one of {', '.join(MODES)} (got {mode!r})", code=2)
    try:
        lab = up(directory, mode=mode)  # checked against MODES
    except LabError as exc:
        fail(str(exc))
    doc = lab.describe()
    if json_out:
        print(json.dumps(doc))
        return
    out.print(f"lab up in {doc['dir']} ({mode}); leader {lab.leader()}")
    out.print(f"database.url: {doc['database_url']}")
    out.print(f"disaster_recovery.etcd: {doc['etcd']}")


@lab_app.command("down")
def lab_down(directory: DirOpt = DEFAULT_LAB) -> None:
    """Stop every process of the lab and remove its directory."""
    from shieldx.dr.lab.service import down

    if not down(directory):
        fail(f"no lab in {directory}")
    out.print(f"lab in {directory} stopped and removed")


@dr_app.command("drill")
def drill(
    kill: Annotated[
        str, typer.Option("--kill", help="postmaster (SIGKILL PostgreSQL) or region (all).")
    ] = "postmaster",
    directory: DirOpt = DEFAULT_LAB,
    json_out: JsonOpt = False,
) -> None:
    """Kill the lab's primary under a credits load; print RTO, RPO and each step."""
    from shieldx.dr.drills.service import DrillError, run_drill
    from shieldx.dr.lab.service import Lab, LabError

    if kill not in ("postmaster", "region"):
        fail(f"--kill must be postmaster or region (got {kill!r})", code=2)
    if not (directory / "lab.json").exists():
        fail(f"no lab in {directory}: start one with `shieldx dr lab up`")
    try:
        report = run_drill(Lab.load(directory), kill=kill)  # type: ignore[arg-type]
    except (DrillError, LabError) as exc:
        fail(str(exc))
    doc = report.as_dict()
    if json_out:
        print(json.dumps(doc))
    else:
        out.print(
            f"{doc['mode']}: RTO {doc['rto_s']} s, RPO {doc['rpo_ops']} of "
            f"{doc['acknowledged_ops']} acknowledged, ledger verified {doc['ledger_verified']}"
        )
    if not doc["ledger_verified"] or doc["duplicated_ops"]:
        raise typer.Exit(1)
