"""The shieldx command line: run the platform, migrate, manage keys, inspect config, benchmark."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
import yaml
from rich.markup import escape
from rich.table import Table

from shieldx import __version__
from shieldx.camouflage import cli as camouflage_cli
from shieldx.chaos import cli as chaos_cli
from shieldx.compliance import cli as compliance_cli
from shieldx.config import (
    ConfigError,
    Settings,
    ineffective_settings,
    masked,
    reference_markdown,
)
from shieldx.credits import cli as credits_cli
from shieldx.dr import cli as dr_cli
from shieldx.locator import cli as locator_cli
from shieldx.platform.cli_options import (
    ConfigOpt,
    DataDirOpt,
    HostOpt,
    JsonOpt,
    PortOpt,
    err,
    fail,
    open_context,
    out,
    settings_from,
)
from shieldx.platform.roles import Role
from shieldx.shadow import cli as shadow_cli

if TYPE_CHECKING:
    from shieldx.platform.bootstrap import Prepared
    from shieldx.platform.db import Database
    from shieldx.platform.server import Listener

# FastAPI, SQLAlchemy and Alembic are imported inside the commands that need them,
# so that `shieldx --help` and `shieldx version` answer at once.
SERVICE_NAMES = ("credits", "shadow", "camouflage", "locator")
SERVICE_CLIS: dict[str, ModuleType] = {
    "credits": credits_cli,
    "shadow": shadow_cli,
    "camouflage": camouflage_cli,
    "locator": locator_cli,
    # Engines served on the credits port, with commands of their own.
    "chaos": chaos_cli,
    "compliance": compliance_cli,
    "dr": dr_cli,
}
LOG_FILE_NAME = "shieldx.log"

app = typer.Typer(
    help="ShieldX: credit ledger, shadow rules, deception and tokens in one self-hosted platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # Plain help, not Rich markup: markup would swallow "[env SHIELDX_CONFIG]" and the like,
    # leaving "YAML config file ." Sub-apps (db, keys, services' groups) inherit this mode.
    rich_markup_mode="markdown",
)
db_app = typer.Typer(
    help="Database migrations (Alembic) on the configured database.", no_args_is_help=True
)
keys_app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)
config_app = typer.Typer(help="Inspect and validate configuration.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks that print JSON.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(config_app, name="config")
app.add_typer(bench_app, name="bench")


def _warn_ineffective(config: Path | None) -> None:
    for warning in ineffective_settings(config, os.environ):
        err.print(f"[yellow]warning:[/] {escape(warning)}")


def _server_overrides(host: str | None, ports: dict[str, int | None]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if host is not None:
        extra["server"] = {"host": host}
    for name, port in ports.items():
        if port is not None:
            extra[name] = {"port": port}
    return extra


def _start(settings: Settings, services: list[str]) -> None:
    from shieldx.platform.app import create_app
    from shieldx.platform.bootstrap import BootstrapError, prepare
    from shieldx.platform.logging import configure_logging
    from shieldx.platform.server import (
        ConnectionGuard,
        Listener,
        ServeError,
        run,
        serve,
        tls_context,
    )
    from shieldx.services import SERVICES

    # On a terminal the banner is what a person reads; the log goes to a file beside the data.
    # Elsewhere (a service manager, a container, CI) it stays on stderr, as they expect.
    log_file = settings.data_dir / LOG_FILE_NAME if sys.stderr.isatty() else None
    configure_logging(settings.logging, log_file)
    try:
        tls = tls_context(settings.server.tls)
    except ServeError as exc:
        fail(str(exc))
    try:
        prepared = prepare(settings, os.environ)
    except BootstrapError as exc:
        fail(str(exc))
    try:
        listeners = [
            Listener(
                name,
                create_app(prepared.ctx, name, SERVICES[name].factory()),
                settings.server.host,
                SERVICES[name].port(settings),
            )
            for name in services
        ]
    except ConfigError as exc:  # a setting only a component can check (a file it reads)
        prepared.ctx.close()
        fail(str(exc))
    try:
        run(
            serve(
                listeners,
                shutdown_timeout=settings.server.shutdown_timeout.total_seconds(),
                keepalive_timeout=settings.server.keepalive_timeout.total_seconds(),
                guard=ConnectionGuard.from_settings(settings.server),
                on_ready=lambda bound: _banner(settings, prepared, bound, log_file),
                tls=tls,
            )
        )
    except ServeError as exc:
        fail(str(exc))
    finally:
        prepared.ctx.close()


def _banner(
    settings: Settings, prepared: Prepared, bound: list[Listener], log_file: Path | None
) -> None:
    where = (
        f"SQLite ({settings.database_url.removeprefix('sqlite:///')})"
        if prepared.ctx.db.backend == "sqlite"
        else "PostgreSQL"
    )
    lines = [f"ShieldX {__version__}: {len(bound)} service(s) on {where}"]
    lines += [f"  {item.service:<12} {item.url}" for item in bound]
    if prepared.admin_key is not None and prepared.admin_key_from_env:
        lines.append("Admin API key: the value of SHIELDX_BOOTSTRAP_ADMIN_KEY")
    elif prepared.admin_key is not None:
        lines += ["Admin API key (shown once; store it now):", f"  {prepared.admin_key}"]
        lines.append("Another key: shieldx keys create --role operator --tenant NAME")
    if log_file is not None:
        lines.append(f"Logs: {log_file}")
    lines.append("Ready. Press Ctrl+C to stop.")
    # stdout, not the log: the key must never reach log files.
    print("\n".join(lines), flush=True)


@app.command()
def up(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    host: HostOpt = None,
    credits_port: PortOpt = None,
    shadow_port: PortOpt = None,
    camouflage_port: PortOpt = None,
    locator_port: PortOpt = None,
    tls: Annotated[
        bool,
        typer.Option(
            "--tls",
            help="Serve HTTPS; without server.tls.certfile, with a self-signed development "
            "certificate made in DATA_DIR/tls on first start.",
        ),
    ] = False,
) -> None:
    """Run all four services in one process (one event loop, one listener each)."""
    ports = {
        "credits": credits_port,
        "shadow": shadow_port,
        "camouflage": camouflage_port,
        "locator": locator_port,
    }
    settings = settings_from(config, data_dir, _server_overrides(host, ports))
    if tls and not settings.server.tls.enabled:
        from shieldx.platform.tls import development_certificate

        cert, key = development_certificate(settings.data_dir / "tls", settings.server.host)
        extra = _server_overrides(host, ports)
        extra.setdefault("server", {})["tls"] = {"certfile": str(cert), "keyfile": str(key)}
        settings = settings_from(config, data_dir, extra)
    _warn_ineffective(config)
    _start(settings, list(SERVICE_NAMES))


@app.command("serve")
def serve_one(
    service: Annotated[str, typer.Argument(help=f"One of: {', '.join(SERVICE_NAMES)}.")],
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    host: HostOpt = None,
    port: PortOpt = None,
) -> None:
    """Run one service alone (to run the services as separate processes)."""
    if service not in SERVICE_NAMES:
        fail(f"unknown service {service!r}; choose one of: {', '.join(SERVICE_NAMES)}", code=2)
    settings = settings_from(config, data_dir, _server_overrides(host, {service: port}))
    _warn_ineffective(config)
    _start(settings, [service])


@app.command()
def version() -> None:
    """Print the ShieldX version."""
    print(f"shieldx {__version__}")


def _database(config: Path | None, data_dir: Path | None) -> Database:
    return _settings_and_database(config, data_dir)[1]


def _settings_and_database(config: Path | None, data_dir: Path | None) -> tuple[Settings, Database]:
    from shieldx.platform.db import create_database
    from shieldx.platform.logging import configure_logging

    settings = settings_from(config, data_dir)
    configure_logging(settings.logging)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings, create_database(settings)


YesOpt = Annotated[bool, typer.Option("--yes", help="Confirm; nothing is asked interactively.")]


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "heads",
    no_backup: Annotated[
        bool, typer.Option("--no-backup", help="Skip the backup taken before migrating.")
    ] = False,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Apply migrations (every branch to its head by default), after a backup when some are
    pending on a database that holds data."""
    from shieldx.platform import backups, migrations

    settings, db = _settings_and_database(config, data_dir)
    taken = None
    if not no_backup and backups.needs_backup(db):
        try:
            path = backups.backup(db, backups.default_path(db, settings.data_dir))
        except backups.BackupError as exc:
            fail(f"backup before migrating failed, nothing migrated: {exc} (or --no-backup)")
        out.print(f"backup: {path}")
        taken = str(path)
    migrations.upgrade(db, revision, backup=taken)
    out.print(f"database at: {', '.join(sorted(migrations.current(db))) or 'base'}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, or 'base'.")],
    yes: YesOpt = False,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Revert migrations down to REVISION; one that drops tables needs --yes (and backs up)."""
    from shieldx.platform import backups, migrations

    settings, db = _settings_and_database(config, data_dir)
    dropped = backups.dropped_by_downgrade(db, revision)
    if dropped and not yes:
        listed = ", ".join(
            f"{name} ({rows} rows)" if rows else name for name, rows in dropped.items()
        )
        fail(
            f"downgrading to {revision} drops {len(dropped)} table(s) and their data: {listed}. "
            "Run again with --yes to do it (a backup is taken first)."
        )
    if dropped:
        try:
            path = backups.backup(db, backups.default_path(db, settings.data_dir))
        except backups.BackupError as exc:
            fail(f"backup before downgrading failed, nothing changed: {exc}")
        out.print(f"backup: {path}")
    migrations.downgrade(db, revision)
    out.print(f"database at: {', '.join(sorted(migrations.current(db))) or 'base'}")


@db_app.command("backup")
def db_backup(
    output: Annotated[
        Path | None,
        typer.Option(
            help="Where to write it (default: a file in DATA_DIR/backups named by time and revision)."
        ),
    ] = None,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Write a consistent copy of the database (SQLite online backup; PostgreSQL pg_dump -Fc)."""
    from shieldx.platform import backups

    settings, db = _settings_and_database(config, data_dir)
    try:
        path = backups.backup(db, output or backups.default_path(db, settings.data_dir))
    except backups.BackupError as exc:
        fail(str(exc))
    out.print(f"backup: {path}")


@db_app.command("restore")
def db_restore(
    path: Annotated[Path, typer.Argument(help="A file made by 'shieldx db backup'.")],
    yes: YesOpt = False,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Replace the whole database with a backup (stop the platform first)."""
    from shieldx.platform import backups

    settings, db = _settings_and_database(config, data_dir)
    where = (
        settings.database_url.removeprefix("sqlite:///")
        if db.backend == "sqlite"
        else f"PostgreSQL database {db.engine.url.database!r}"
    )
    if not path.is_file():
        fail(f"no backup file at {path}")
    if not yes:
        held = backups.tables(db)
        fail(
            f"restoring {path} replaces everything in {where} ({len(held)} tables now), "
            "API keys included. Stop the platform, then run again with --yes."
        )
    try:
        backups.restore(db, path)
    except backups.BackupError as exc:
        fail(str(exc))
    out.print(f"restored {path} into {where}")


@db_app.command("current")
def db_current(config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """Show the revision of each branch and whether it is the head."""
    from shieldx.platform import migrations

    db = _database(config, data_dir)
    current = migrations.current(db)
    heads = migrations.heads()
    for rev in sorted(current):
        out.print(f"{rev} {'(head)' if rev in heads else '(behind)'}")
    for rev in sorted(heads - current):
        out.print(f"pending: {rev}")
    if not current:
        out.print("base (no migrations applied)")


@db_app.command("history")
def db_history() -> None:
    """List every migration, newest first."""
    from shieldx.platform import migrations

    table = Table("revision", "down", "branch", "message", "head")
    for rev in migrations.history():
        head = "yes" if rev.is_head else ""
        table.add_row(rev.revision, rev.down_revision or "-", rev.branch, rev.message, head)
    out.print(table)


@keys_app.command("create")
def keys_create(
    role: Annotated[Role, typer.Option(help="admin, operator, auditor or service.")],
    tenant: Annotated[str | None, typer.Option(help="Scope the key to one tenant.")] = None,
    name: Annotated[str, typer.Option(help="A label for the key.")] = "",
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Create an API key and print it once."""
    ctx = open_context(config, data_dir)
    record, key = ctx.api_keys.create(role=role, tenant=tenant, name=name)
    if json_out:
        doc = {"id": record.id, "key": key, "role": record.role.value, "tenant": record.tenant}
        print(orjson.dumps({**doc, "name": record.name}).decode())
        return
    out.print(f"created key {record.id} (role {record.role.value}, tenant {record.tenant or '-'})")
    out.print("the key is shown once; store it now:")
    print(key)


@keys_app.command("list")
def keys_list(
    include_revoked: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """List API keys (never their secrets)."""
    ctx = open_context(config, data_dir)
    records = ctx.api_keys.list(include_revoked=include_revoked)
    if json_out:
        for r in records:
            row = {
                "id": r.id,
                "name": r.name,
                "role": r.role.value,
                "tenant": r.tenant,
                "prefix": r.prefix,
                "created_at": r.created_at.isoformat(),
                "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None,
            }
            print(orjson.dumps(row).decode())
        return
    table = Table("id", "name", "role", "tenant", "prefix", "created", "revoked")
    for r in records:
        revoked = f"{r.revoked_at:%Y-%m-%d %H:%M}" if r.revoked_at else ""
        created = f"{r.created_at:%Y-%m-%d %H:%M}"
        table.add_row(r.id, r.name, r.role.value, r.tenant or "-", r.prefix + "…", created, revoked)
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (from 'keys list').")],
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Revoke an API key; running services refuse it within security.api_key_cache."""
    ctx = open_context(config, data_dir)
    if not ctx.api_keys.revoke(key_id):
        fail(f"no active key with id {key_id!r}")
    out.print(f"revoked key {key_id}")


@keys_app.command("otp")
def keys_otp(
    secret_env: Annotated[
        str,
        typer.Option(
            "--secret-env",
            help="The environment variable holding the factor's base32 secret "
            "(never the secret itself on the command line: it would show in ps).",
        ),
    ] = "SHIELDX_OTP_SECRET",  # noqa: S107 - the name of a variable, not a secret
) -> None:
    """Print the current TOTP code of a second factor (like oathtool --totp -b), for scripts
    that run admin operations with security.admin_mfa on."""
    import os

    import pyotp

    secret = os.environ.get(secret_env, "").strip()
    if not secret:
        fail(f"set {secret_env} to the factor's base32 secret (from POST /admin/mfa/enroll)")
    try:
        print(pyotp.TOTP(secret).now())
    except (ValueError, TypeError) as exc:  # binascii.Error is a ValueError
        fail(f"{secret_env} is not a base32 secret: {exc}")


@config_app.command("show")
def config_show(
    json_out: JsonOpt = False, config: ConfigOpt = None, data_dir: DataDirOpt = None
) -> None:
    """Print the effective configuration, secrets masked."""
    data = masked(settings_from(config, data_dir))
    if json_out:
        print(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
    else:
        print(yaml.safe_dump(data, sort_keys=False), end="")


@config_app.command("check")
def config_check(file: Annotated[Path, typer.Argument(help="The YAML file to validate.")]) -> None:
    """Validate a config file (with the current SHIELDX_* variables); exit 2 on problems.

    Keys that validate but have no effect yet are listed as warnings (the exit code stays 0).
    """
    settings_from(file)
    for warning in ineffective_settings(file, os.environ):
        print(f"warning: {warning}")
    out.print(f"{file}: ok")


@config_app.command("reference")
def config_reference() -> None:
    """Print every key with its type, default and variable name as a Markdown table."""
    print(reference_markdown(), end="")


@bench_app.command("http")
def bench_http(
    duration: Annotated[float, typer.Option(help="Seconds per target.", min=1)] = 10.0,
    connections: Annotated[int, typer.Option(help="Concurrent connections.", min=1)] = 100,
    threads: Annotated[int, typer.Option(help="Load-generator threads.", min=1)] = 1,
    service: Annotated[str, typer.Option(help="Which service to start.")] = "credits",
    json_out: JsonOpt = False,
) -> None:
    """Measure /health and /whoami over loopback with wrk (or hey); print JSON."""
    from shieldx.platform.bench import http_bench

    http_bench(
        duration=duration,
        connections=connections,
        threads=threads,
        service=service,
        quiet=json_out,
    )


def _register_service_commands() -> None:
    """Add each service's own commands from its `cli.py`.

    A service's cli module defines COMMANDS, a list of (name, typer.Typer) groups added at
    the top level (e.g. `shieldx credits …`), and may define BENCH, a function registered as
    `shieldx bench <service>`, and BENCHES, (name, function) pairs for `shieldx bench <name>`. Those modules import their heavy dependencies lazily, and
    import shared options from shieldx.platform.cli_options, never this module (no cycle).
    """
    for name, module in SERVICE_CLIS.items():
        for group_name, group in getattr(module, "COMMANDS", ()):
            app.add_typer(group, name=group_name)
        bench = getattr(module, "BENCH", None)
        if bench is not None:
            bench_app.command(name)(bench)
        for bench_name, extra_bench in getattr(module, "BENCHES", ()):
            bench_app.command(bench_name)(extra_bench)


_register_service_commands()


def main() -> None:
    """Entry point of the shieldx console script."""
    app(prog_name="shieldx")
