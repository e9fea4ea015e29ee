"""`shieldx compliance …`: assess, score, report, alerts and evidence, through the running
credits service (the compliance engine is served on its port)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

import typer

from shieldx.platform.cli_options import ConfigOpt, JsonOpt, fail, settings_from

compliance_app = typer.Typer(
    help="Compliance of the running platform: assess, score, report, alerts, evidence.",
    no_args_is_help=True,
)
alerts_app = typer.Typer(help="Compliance alerts: list, acknowledge.", no_args_is_help=True)
evidence_app = typer.Typer(help="Stored evidence: list, verify the chain.", no_args_is_help=True)
compliance_app.add_typer(alerts_app, name="alerts")
compliance_app.add_typer(evidence_app, name="evidence")

UrlOpt = Annotated[
    str | None,
    typer.Option(
        "--url",
        help="The credits service's URL [default: server.host and credits.port of the config].",
        show_default=False,
    ),
]
KeyOpt = Annotated[
    str,
    typer.Option(
        "--api-key",
        envvar="SHIELDX_API_KEY",
        help="An unscoped admin or operator key (auditor to read) [env SHIELDX_API_KEY].",
        show_default=False,
    ),
]


def _fail(message: str, code: int = 1) -> NoReturn:
    fail(message, code)


def _base(url: str | None, config: Path | None) -> str:
    if url is not None:
        return url.rstrip("/")
    from shieldx.platform.listeners import listener_url

    settings = settings_from(config)
    return listener_url(settings.server.host, settings.credits.port, settings.server.tls.enabled)


def _call(method: str, url: str, key: str, *, timeout: float = 300, **kwargs: Any) -> Any:
    """One request; a refusal exits 1 with the problem's detail, an unreachable service too."""
    import httpx

    try:
        answer = httpx.request(
            method, url, headers={"Authorization": f"Bearer {key}"}, timeout=timeout, **kwargs
        )
    except httpx.HTTPError as exc:
        _fail(f"cannot reach {url}: {exc} (is the platform running? see --url)")
    if not answer.is_success:
        try:
            detail = answer.json().get("detail", answer.text)
        except ValueError:
            detail = answer.text
        _fail(f"{answer.status_code}: {detail}")
    return answer


@compliance_app.command("assess")
def assess(
    api_key: KeyOpt, json_out: JsonOpt = False, url: UrlOpt = None, config: ConfigOpt = None
) -> None:
    """Assess the running platform now against every enabled framework."""
    result = _call("POST", _base(url, config) + "/compliance/assessments", api_key).json()
    if json_out:
        print(json.dumps(result, indent=2))
        return
    print(f"overall {result['overall']:.1f}")
    for fid, framework in result["frameworks"].items():
        print(f"{fid:<10} {framework['score']:6.1f}")
        for control in framework["controls"]:
            print(f"  {control['id']:<10} {control['status']}")


@compliance_app.command("score")
def score(
    api_key: KeyOpt, json_out: JsonOpt = False, url: UrlOpt = None, config: ConfigOpt = None
) -> None:
    """The latest scores and their history."""
    result = _call("GET", _base(url, config) + "/compliance/score", api_key).json()
    if json_out:
        print(json.dumps(result, indent=2))
        return
    if result["overall"] is None:
        print("no assessment yet: run 'shieldx compliance assess'")
        return
    print(f"overall {result['overall']:.1f}")
    for fid, value in result["frameworks"].items():
        print(f"{fid:<10} {value:6.1f}")


@compliance_app.command("report")
def report(
    api_key: KeyOpt,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the report.")],
    framework: Annotated[
        str, typer.Option("--framework", "-f", help="A framework id, or 'all'.")
    ] = "all",
    fmt: Annotated[
        Literal["json", "csv", "html", "pdf", "oscal"],
        typer.Option("--format", help="Report format."),
    ] = "json",
    url: UrlOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Write a report of the latest assessment (run 'shieldx compliance assess' first)."""
    answer = _call(
        "GET",
        _base(url, config) + f"/compliance/reports/{framework}",
        api_key,
        params={"format": fmt},
    )
    output.write_bytes(answer.content)
    print(f"wrote {output} ({len(answer.content)} bytes, {fmt})")


@alerts_app.command("list")
def alerts_list(
    api_key: KeyOpt,
    open_only: Annotated[bool, typer.Option("--open", help="Only unacknowledged.")] = False,
    json_out: JsonOpt = False,
    url: UrlOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Compliance alerts, newest first."""
    rows = _call(
        "GET", _base(url, config) + "/compliance/alerts", api_key, params={"open_only": open_only}
    ).json()
    if json_out:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        state = "acknowledged" if row["acknowledged_at_us"] else "open"
        print(f"{row['id']}  {row['severity']:<8} {state:<12} {row['subject']}")


@alerts_app.command("ack")
def alerts_ack(
    alert_id: str, api_key: KeyOpt, url: UrlOpt = None, config: ConfigOpt = None
) -> None:
    """Acknowledge an alert (it stops escalating)."""
    _call("POST", _base(url, config) + f"/compliance/alerts/{alert_id}/acknowledge", api_key)
    print(f"acknowledged {alert_id}")


@evidence_app.command("list")
def evidence_list(
    api_key: KeyOpt,
    report_id: Annotated[str | None, typer.Option(help="Default: the latest.")] = None,
    json_out: JsonOpt = False,
    url: UrlOpt = None,
    config: ConfigOpt = None,
) -> None:
    """The evidence an assessment stored."""
    params = {"report_id": report_id} if report_id else {}
    rows = _call("GET", _base(url, config) + "/compliance/evidence", api_key, params=params).json()
    if json_out:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        print(f"{row['seq']:>6} {row['check']:<26} {row['status']:<15} {row['sha256']}")


@evidence_app.command("verify")
def evidence_verify(api_key: KeyOpt, url: UrlOpt = None, config: ConfigOpt = None) -> None:
    """Verify the evidence chain; exits 1 when a row was altered, inserted or removed."""
    result = _call("GET", _base(url, config) + "/compliance/evidence/verify", api_key).json()
    print(json.dumps(result, indent=2))
    if not result["ok"]:
        raise typer.Exit(1)


COMMANDS: list[tuple[str, typer.Typer]] = [("compliance", compliance_app)]
