"""`shieldx dr lab up|down` and `shieldx dr drill`.

The lab and the drill drive real processes on this machine (etcd, Patroni, PostgreSQL, a
credits service); import-light: heavy modules are imported inside the commands.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from shieldx.platform.cli_options import ConfigOpt, JsonOpt, fail, out, settings_from

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


UrlOpt = Annotated[
    str | None,
    typer.Option("--url", help="Base URL of the credits service [default: from config].",
                 show_default=False),
]  # fmt: skip
KeyOpt = Annotated[
    str | None,
    typer.Option("--api-key", envvar="SHIELDX_API_KEY", help="An admin API key.",
                 show_default=False),
]  # fmt: skip


def _call(
    method: str, path: str, config: Path | None, url: str | None, api_key: str | None,
    body: dict[str, Any] | None = None,
) -> Any:  # fmt: skip
    """METHOD PATH on the running credits service (which serves /dr); exit 1 on a problem."""
    import httpx

    if not api_key:
        fail("an admin API key is needed: pass --api-key or set SHIELDX_API_KEY", code=2)
    if url is None:
        settings = settings_from(config)
        url = f"http://{settings.server.host}:{settings.credits.port}"
    headers = {"Authorization": f"Bearer {api_key}"}
    try:
        answer = httpx.request(
            method, url.rstrip("/") + path, json=body, headers=headers, timeout=300
        )
    except httpx.HTTPError as exc:
        fail(f"cannot reach the credits service at {url}: {exc}")
    if answer.status_code >= 400:
        try:
            detail = answer.json().get("detail", answer.text)
        except ValueError:
            detail = answer.text
        fail(f"{answer.status_code}: {detail}")
    return answer.json()


def _print_move(doc: dict[str, Any], json_out: bool) -> None:
    if json_out:
        print(json.dumps(doc))
        return
    out.print(f"{doc['kind']} {doc['from_region']} -> {doc['to_region']}: {doc['status']}")
    for step in doc["steps"]:
        out.print(f"  {step['name']:<11} +{step['duration_s']:.3f}s  {step['detail']}")


@dr_app.command("bench")
def bench(
    seconds: Annotated[float, typer.Option(help="Load per mode, in seconds.", min=1)] = 8.0,
    directory: DirOpt = DEFAULT_LAB,
) -> None:
    """Credits write throughput per replication mode against a single node (JSON, the lab)."""
    from shieldx.dr.drills.service import DrillError, bench_modes
    from shieldx.dr.lab.service import Lab, LabError

    if not (directory / "lab.json").exists():
        fail(f"no lab in {directory}: start one with `shieldx dr lab up`")
    try:
        print(json.dumps(bench_modes(Lab.load(directory), seconds=seconds)))
    except (DrillError, LabError) as exc:
        fail(str(exc))


@dr_app.command("status")
def status(
    config: ConfigOpt = None, url: UrlOpt = None, api_key: KeyOpt = None, json_out: JsonOpt = False
) -> None:
    """Regions, their health scores and lag, the replication mode and recent failovers."""
    doc = _call("GET", "/dr/status", config, url, api_key)
    if json_out:
        print(json.dumps(doc))
        return
    out.print(f"primary {doc['primary']}, mode {doc['replication_mode']}")
    for region in doc["regions"]:
        out.print(
            f"  {region['name']:<16} {region['role']:<8} {region['status']:<9} "
            f"score {region['health_score']:.2f}  lag {region['lag_bytes']} B"
        )


@dr_app.command("failover")
def failover(
    to: Annotated[str | None, typer.Option("--to", help="The region to promote.")] = None,
    config: ConfigOpt = None,
    url: UrlOpt = None,
    api_key: KeyOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Move the primary role to REGION (default: the best healthy standby), in six steps."""
    _print_move(_call("POST", "/dr/failover", config, url, api_key, {"to": to}), json_out)


@dr_app.command("failback")
def failback(
    config: ConfigOpt = None, url: UrlOpt = None, api_key: KeyOpt = None, json_out: JsonOpt = False
) -> None:
    """Return the primary role to the region with the lowest priority number."""
    _print_move(_call("POST", "/dr/failback", config, url, api_key), json_out)


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
    mode: Annotated[
        str | None, typer.Option("--mode", help="Switch the lab to sync, semi_sync or async first.")
    ] = None,
    directory: DirOpt = DEFAULT_LAB,
    json_out: JsonOpt = False,
) -> None:
    """Kill the lab's primary under a credits load; print RTO, RPO and each step."""
    from shieldx.dr.drills.service import DrillError, run_drill
    from shieldx.dr.lab.domain import MODES
    from shieldx.dr.lab.service import Lab, LabError

    if kill not in ("postmaster", "region"):
        fail(f"--kill must be postmaster or region (got {kill!r})", code=2)
    if not (directory / "lab.json").exists():
        fail(f"no lab in {directory}: start one with `shieldx dr lab up`")
    if mode is not None and mode not in MODES:
        fail(f"--mode must be one of {', '.join(MODES)} (got {mode!r})", code=2)
    try:
        lab = Lab.load(directory)
        if mode is not None:
            lab.set_mode(mode)
        report = run_drill(lab, kill=kill)  # type: ignore[arg-type]
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
