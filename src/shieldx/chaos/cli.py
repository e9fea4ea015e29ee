"""`shieldx chaos run FILE | list | status ID | abort ID` and `shieldx bench chaos`.

The commands talk to the running platform over HTTP (the credits port serves the engine):
--url or the configured server.host and credits.port, and an admin key from --api-key or
SHIELDX_API_KEY. Import-light: heavy modules are imported inside the commands.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from shieldx.platform.cli_options import ConfigOpt, JsonOpt, fail, settings_from

chaos_app = typer.Typer(
    help="Chaos experiments against the running platform.", no_args_is_help=True
)
COMMANDS: list[tuple[str, typer.Typer]] = [("chaos", chaos_app)]

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
FINAL = frozenset({"completed", "halted", "failed"})


def _client(config: Path | None, url: str | None, api_key: str | None) -> Any:
    import httpx

    if not api_key:
        fail("an admin API key is needed: pass --api-key or set SHIELDX_API_KEY", code=2)
    if url is None:
        settings = settings_from(config)
        url = f"http://{settings.server.host}:{settings.credits.port}"
    return httpx.Client(
        base_url=url.rstrip("/"), headers={"Authorization": f"Bearer {api_key}"}, timeout=30
    )


def _answer(response: Any) -> Any:

    if response.status_code >= 400:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        fail(f"{response.status_code}: {detail}")
    return response.json()


def _read_experiment(path: Path) -> Any:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"{path}: cannot read ({exc.strerror})", code=2)
    try:
        if path.suffix in (".yaml", ".yml"):
            return yaml.safe_load(text)
        return json.loads(text)
    except (ValueError, yaml.YAMLError) as exc:
        fail(f"{path}: not valid {'YAML' if path.suffix != '.json' else 'JSON'} ({exc})", code=2)


def _show(doc: dict[str, Any], json_out: bool) -> None:
    if json_out:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    from rich.console import Console

    out = Console()
    out.print(f"[bold]{doc['id']}[/] {doc['title']} ({doc['type']}): [bold]{doc['status']}[/]")
    out.print(
        f"  rolled back: {doc['rolled_back']}  rollback: {doc['rollback_s']} s  "
        f"recovery: {doc['recovery_s']} s  error rate: {doc['error_rate']} %  "
        f"p99: {doc['p99_ms']} ms  requests: {doc['requests']}"
    )
    for violation in doc["violations"]:
        out.print(f"  [red]violation:[/] {violation['message']}")
    if doc.get("error"):
        out.print(f"  [red]error:[/] {doc['error']}")


@chaos_app.command("run")
def run(
    file: Annotated[Path, typer.Argument(help="A Chaos Toolkit experiment (JSON or YAML).")],
    config: ConfigOpt = None,
    url: UrlOpt = None,
    api_key: KeyOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Run an experiment on the platform and wait for its end; exit 0 only if it completed."""
    from rich.console import Console

    definition = _read_experiment(file)
    progress = Console(stderr=True)
    with _client(config, url, api_key) as http:
        doc = _answer(http.post("/chaos/experiment", json=definition))
        with progress.status(f"{doc['id']} running…") as status:
            while doc["status"] not in FINAL:
                time.sleep(0.2)
                doc = _answer(http.get(f"/chaos/status/{doc['id']}"))
                status.update(
                    f"{doc['id']} {doc['status']}: {doc['requests']} requests, "
                    f"error rate {doc['error_rate']} %, p99 {doc['p99_ms']} ms"
                )
    _show(doc, json_out)
    if doc["status"] != "completed":
        raise typer.Exit(1)


@chaos_app.command("status")
def status(
    experiment_id: Annotated[str, typer.Argument(help="The experiment id (exp_…).")],
    config: ConfigOpt = None,
    url: UrlOpt = None,
    api_key: KeyOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show one experiment's status document."""
    with _client(config, url, api_key) as http:
        _show(_answer(http.get(f"/chaos/status/{experiment_id}")), json_out)


@chaos_app.command("abort")
def abort(
    experiment_id: Annotated[str, typer.Argument(help="The experiment id (exp_…).")],
    config: ConfigOpt = None,
    url: UrlOpt = None,
    api_key: KeyOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Stop a running experiment now (it rolls back as usual)."""
    with _client(config, url, api_key) as http:
        _show(_answer(http.post(f"/chaos/experiments/{experiment_id}/abort")), json_out)


@chaos_app.command("list")
def list_experiments(
    config: ConfigOpt = None,
    url: UrlOpt = None,
    api_key: KeyOpt = None,
    json_out: JsonOpt = False,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
) -> None:
    """List experiments, newest first."""
    with _client(config, url, api_key) as http:
        rows = _answer(http.get("/chaos/experiments", params={"limit": limit}))
    if json_out:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    for row in rows:
        sys.stdout.write(
            f"{row['id']}  {row['started_at']}  {row['type']:<20} {row['status']:<10} "
            f"{row['title']}\n"
        )


def bench_chaos(
    rounds: Annotated[int, typer.Option(help="Experiments per figure.")] = 5,
    json_out: JsonOpt = False,
) -> None:
    """Experiment start-up, safety check and rollback times on a real credits service."""
    from shieldx.chaos.bench import run as run_bench

    figures = run_bench(rounds=rounds)
    sys.stdout.write(json.dumps(figures, indent=None if json_out else 2) + "\n")


BENCH = bench_chaos
